"""Engagement events (a review, a follow, a survey) and the entries they earned."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from domain.events import ValidEvent
from domain.ledger import earned_awards
from domain.program import PointsAward
from persistence import sql
from persistence.entries import earn_entries_of
from persistence.rows import CustomerRow, moment_of
from persistence.statements import named


@dataclass(frozen=True)
class StoredEvent:
    external_id: str
    customer_external_id: str
    type: str
    occurred_at: datetime
    points_earned: int
    rules_version: str
    request_hash: str
    awards: tuple[PointsAward, ...] = ()
    """What each rule gave, read back from the event's earn entries."""


async def insert_event(
    customer: CustomerRow, event: ValidEvent, *, points: int, rules_version: str, now: datetime
) -> tuple[int, StoredEvent]:
    """No existence check first: the unique index on external_id refuses a replay, which
    then rolls back and is answered from the stored event."""
    # In UTC, as the database gives it back, so that a replay answers the same instant alike.
    occurred_at = sql.as_utc(event.occurred_at or now)
    [row] = await sql.fetch_named(
        named(
            "INSERT INTO engagement_events (external_id, customer_id, type, attributes, occurred_at,"
            " points_earned, rules_version, request_hash, created_at)"
            " VALUES (:external_id, :id, :type, :attributes, :occurred_at, :points, :rules_version,"
            " :request_hash, :now) RETURNING id"
        ),
        {
            "external_id": event.external_id,
            "id": customer.id,
            "type": event.facts.type,
            "attributes": json.dumps(dict(event.facts.attributes), separators=(",", ":")),
            "occurred_at": occurred_at,
            "points": points,
            "rules_version": rules_version,
            "request_hash": event.request_hash,
            "now": now,
        },
    )
    stored = StoredEvent(
        external_id=event.external_id,
        customer_external_id=customer.external_id,
        type=event.facts.type,
        occurred_at=occurred_at,
        points_earned=points,
        rules_version=rules_version,
        request_hash=event.request_hash,
    )
    return row["id"], stored


async def find_event(external_id: str) -> StoredEvent | None:
    rows = await sql.fetch_named(
        named(
            "SELECT e.id, e.external_id, c.external_id AS customer_external_id, e.type, e.occurred_at,"
            " e.points_earned, e.rules_version, e.request_hash FROM engagement_events e"
            " JOIN customers c ON c.id = e.customer_id WHERE e.external_id = :external_id"
        ),
        {"external_id": external_id},
    )
    if not rows:
        return None
    row = rows[0]
    return StoredEvent(
        external_id=row["external_id"],
        customer_external_id=row["customer_external_id"],
        type=row["type"],
        occurred_at=moment_of(row["occurred_at"]),
        points_earned=row["points_earned"],
        rules_version=row["rules_version"],
        request_hash=row["request_hash"],
        awards=earned_awards(await earn_entries_of(event_id=row["id"])),
    )
