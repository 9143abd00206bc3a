"""Log lines as JSON objects (for collectors) or text (for people), one per line.

Every record carries the time (UTC, ISO 8601), the level, the logger and, within a
request, its request id (see `request_id`). Fields a caller adds with `extra={...}`
(operation, caller, duration_ms, ...) become keys of the JSON object. A traceback is one
field of one line, never lines of its own.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Set for the duration of a request by api/observed.py; read by every log record.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# What every LogRecord has; anything else on a record was given as `extra`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message", "taskName"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


# One encoder: json.dumps(..., default=str) builds a new one for every line.
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    _second = -1
    _second_text = ""

    def _time(self, created: float) -> str:
        """ISO 8601 in UTC to the millisecond; the seconds' text made once per second."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        for key in fields.keys() - _STANDARD:  # a set difference in C: a request's line is hot
            if fields[key] is not None:
                line[key] = fields[key]
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and v is not None]
        if extras:
            first, sep, rest = text.partition("\n")
            text = f"{first} {' '.join(extras)}{sep}{rest}"
        return text


def configure(log_format: str, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Routes the root logger, uvicorn's and strawberry's to one handler on stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our request line replaces uvicorn's access log (it has the operation and request id).
    logging.getLogger("uvicorn.access").disabled = True


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """For uvicorn.run(log_config=...): applied in every worker before the app loads."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "line": {"()": JsonFormatter} if log_format == "json" else {"()": TextFormatter},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }
