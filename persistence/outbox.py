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
from persistence.statements import RowsInsert, insert
from persistence.tables import CUSTOMER_EVENT_SEQUENCES, REWARD_EVENTS

# (type, customer external id, payload), as use cases build them.
Event = tuple[str, str | None, dict]

# Called once events written by this process are committed (persistence.sql.after_commit):
# the tail of the SQLite default (its in-process bus), or the Redis bus's publisher when
# one is configured. Without Redis, PostgreSQL needs none of this: a trigger NOTIFYs at
# every commit that wrote events (migration 0009).
written_listeners: list[Callable[[], None]] = []

# How a customer's event numbers move: by the count of events written, on the row upserted
# before they are inserted. The row lock orders one customer's concurrent writers, and the
# value returned is the newest committed one (PostgreSQL re-reads a row it waited for), so
# the numbers never repeat or skip. The order write on PostgreSQL numbers its events with
# the same clause (persistence.order_writes).
COUNT_EVENTS = (
    "ON CONFLICT (customer_external_id)"
    " DO UPDATE SET last_sequence = customer_event_sequences.last_sequence + excluded.last_sequence"
)
_NEXT_SEQUENCE = insert(CUSTOMER_EVENT_SEQUENCES, suffix=COUNT_EVENTS, returning="last_sequence")
_INSERT = RowsInsert(REWARD_EVENTS)


def event_row(
    event_type: str,
    customer: str | None,
    payload: dict,
    *,
    now: datetime,
    sequence: int | None,
    rules_version: str | None,
) -> dict[str, Any]:
    """An outbox row's values by column."""
    return {
        "type": event_type,
        "customer_external_id": customer,
        "occurred_at": now,
        "payload": json.dumps(payload),
        "customer_sequence": sequence,
        "rules_version": rules_version or payload.get("rulesVersion"),
    }


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
            rows = await sql.fetch_named(_NEXT_SEQUENCE, {"customer_external_id": customer, "last_sequence": count})
            next_number[customer] = rows[0]["last_sequence"] - count + 1
    written = []
    for event_type, customer, payload in events:
        number = next_number.get(customer)
        if number is not None:
            next_number[customer] = number + 1
        written.append(event_row(event_type, customer, payload, now=now, sequence=number, rules_version=rules_version))
    await sql.execute_named(_INSERT.statement(len(written)), _INSERT.params(written))
    announce_written()


def announce_written() -> None:
    """For writers that insert events by other statements (the order write on PostgreSQL)."""
    sql.after_commit(_announce_written)


def _announce_written() -> None:
    for listener in list(written_listeners):
        listener()


_SEQUENCES = RowsInsert(CUSTOMER_EVENT_SEQUENCES, suffix=COUNT_EVENTS, returning="customer_external_id, last_sequence")
_CHUNK = 2000
"""Rows per statement: an event row has 6 parameters, and both databases take ~32k."""


async def add_batch_events(events: Sequence[Event], now: datetime) -> None:
    """Inside the transaction of the change: the events of a job's batch of customers,
    numbered per customer by one upsert and written by one insert per chunk (not by a
    statement per customer, as `add_events` does); each customer's events in the order given."""
    assert all(customer is not None for _, customer, _ in events), "a job's events are customers'"
    for start in range(0, len(events), _CHUNK):
        chunk = events[start : start + _CHUNK]
        counts: dict[str | None, int] = {}
        for _, customer, _ in chunk:
            counts[customer] = counts.get(customer, 0) + 1
        counted = [{"customer_external_id": c, "last_sequence": n} for c, n in counts.items()]
        rows = await sql.fetch_named(_SEQUENCES.statement(len(counted)), _SEQUENCES.params(counted))
        number = {
            row["customer_external_id"]: int(row["last_sequence"]) - counts[row["customer_external_id"]] + 1
            for row in rows
        }
        written = []
        for event_type, customer, payload in chunk:
            written.append(
                event_row(event_type, customer, payload, now=now, sequence=number[customer], rules_version=None)
            )
            number[customer] += 1
        await sql.execute_named(_INSERT.statement(len(written)), _INSERT.params(written))
    if events:
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
