"""Log lines: one JSON object per line, with the time, the level and the request id; a
traceback is a field of that line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from app.logging_setup import JsonFormatter, RequestIdFilter, TextFormatter, request_id


def _record(message: str, *, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    record = logging.makeLogRecord(
        {"name": "loyalty.request", "levelno": logging.ERROR, "levelname": "ERROR", "msg": message, **extra}
    )
    record.exc_info = exc_info
    return record


def test_a_json_line_has_time_level_request_id_and_the_extra_fields():
    token = request_id.set("req-42")
    try:
        record = _record("POST /graphql 200", operation="recordOrder", duration_ms=3.5)
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = JsonFormatter().format(record)

    assert "\n" not in line
    parsed = json.loads(line)
    assert datetime.fromisoformat(parsed["time"]) == datetime.fromtimestamp(record.created, UTC).replace(
        microsecond=int(record.created % 1 * 1000) * 1000
    )
    assert parsed["level"] == "ERROR"
    assert (parsed["request_id"], parsed["operation"], parsed["duration_ms"]) == ("req-42", "recordOrder", 3.5)
    assert parsed["message"] == "POST /graphql 200"


def test_a_traceback_is_one_field_of_one_json_line():
    line = JsonFormatter().format(_record("failed", exc=True))
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["traceback"]


def test_text_lines_are_for_people():
    line = TextFormatter().format(_record("POST /graphql 200", operation="recordOrder"))
    assert line.endswith("ERROR loyalty.request POST /graphql 200 operation=recordOrder")
