"""The outbox of reward events: written in the transaction of the change that caused
them, read in id order by everything that tells partners (subscriptions, the
`rewardEvents` query, webhooks) through `events_after`, the one read path."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persistence import sql

# (type, customer external id, payload), as use cases build them.
Event = tuple[str, str | None, dict]

# Called after events are written, still inside the writing transaction: the in-process
# bus of the SQLite default (app/event_stream.py). Readers woken by it read through
# Tortoise's SQLite connection, whose lock the transaction holds until it commits or
# rolls back, so they never see an event that is not committed. PostgreSQL needs none of
# this: a trigger NOTIFYs at commit (migration 0004).
written_listeners: list[Callable[[], None]] = []

# Upserted before the events are inserted: the row lock orders one customer's concurrent
# writers, and the value returned is the newest committed one (PostgreSQL re-reads a row
# it waited for), so the numbers never repeat or skip.
_NEXT_SEQUENCE = """
INSERT INTO customer_event_sequences (customer_external_id, last_sequence) VALUES ($1, $2)
ON CONFLICT (customer_external_id)
DO UPDATE SET last_sequence = customer_event_sequences.last_sequence + excluded.last_sequence
RETURNING last_sequence
"""


@dataclass(frozen=True)
class OutboxEvent:
    id: int
    type: str
    customer_external_id: str | None
    customer_sequence: int | None
    occurred_at: datetime
    rules_version: str | None
    payload: dict[str, Any]


async def add_events(events: Sequence[Event], now: datetime, rules_version: str | None = None) -> None:
    """Inside the transaction of the change: events and their per-customer numbers."""
    if not events:
        return
    counts: dict[str | None, int] = {}
    for _, customer, _ in events:
        counts[customer] = counts.get(customer, 0) + 1
    next_number: dict[str | None, int] = {}
    for customer, count in counts.items():
        if customer is not None:
            rows = await sql.fetch(_NEXT_SEQUENCE, customer, count)
            next_number[customer] = rows[0]["last_sequence"] - count + 1
    values = []
    for event_type, customer, payload in events:
        number = next_number.get(customer)
        if number is not None:
            next_number[customer] = number + 1
        version = rules_version or payload.get("rulesVersion")
        values.append((event_type, customer, now, json.dumps(payload), number, version))
    columns, flat = sql.values_rows(values)
    await sql.execute(
        "INSERT INTO reward_events (type, customer_external_id, occurred_at, payload, customer_sequence,"
        " rules_version) VALUES " + columns,
        *flat,
    )
    for listener in list(written_listeners):
        listener()


_COLUMNS = "id, type, customer_external_id, customer_sequence, occurred_at, rules_version, payload"


async def events_after(after: int, upto: int | None, types: Sequence[str] | None, limit: int) -> list[OutboxEvent]:
    """Events with after < id <= upto (no upper bound when None), oldest first."""
    conditions = ["id > $1"]
    values: list[Any] = [after]
    if upto is not None:
        values.append(upto)
        conditions.append(f"id <= ${len(values)}")
    if types:
        marks = []
        for event_type in types:
            values.append(event_type)
            marks.append(f"${len(values)}")
        conditions.append(f"type IN ({', '.join(marks)})")
    values.append(limit)
    rows = await sql.fetch(
        f"SELECT {_COLUMNS} FROM reward_events WHERE {' AND '.join(conditions)} ORDER BY id LIMIT ${len(values)}",
        *values,
    )
    return [_event(row) for row in rows]


async def events_by_ids(ids: Sequence[int]) -> dict[int, OutboxEvent]:
    if not ids:
        return {}
    marks = ", ".join(f"${i + 1}" for i in range(len(ids)))
    rows = await sql.fetch(f"SELECT {_COLUMNS} FROM reward_events WHERE id IN ({marks})", *ids)
    return {event.id: event for event in map(_event, rows)}


async def last_event_id() -> int:
    rows = await sql.fetch("SELECT MAX(id) AS last FROM reward_events")
    return int(rows[0]["last"] or 0)


def _event(row: dict[str, Any]) -> OutboxEvent:
    payload = row["payload"]
    if isinstance(payload, str):  # sqlite and asyncpg hand JSON back as text
        payload = json.loads(payload)
    occurred_at = row["occurred_at"]
    if isinstance(occurred_at, str):
        occurred_at = datetime.fromisoformat(occurred_at)
    return OutboxEvent(
        id=int(row["id"]),
        type=row["type"],
        customer_external_id=row["customer_external_id"],
        customer_sequence=row["customer_sequence"],
        occurred_at=occurred_at,
        rules_version=row["rules_version"],
        payload=payload,
    )
