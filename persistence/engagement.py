"""Engagement events (a review, a follow, a survey) and the entries they earned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.customers import Customer
from domain.events import ValidEvent
from domain.ledger import earned_awards
from domain.program import PointsAward
from persistence.ledger import earn_entries_of
from persistence.repository import Repository
from persistence.statements import Statement, insert
from persistence.tables import ENGAGEMENT_EVENTS, as_utc, record, to_json


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


_INSERT = insert(
    ENGAGEMENT_EVENTS,
    ["external_id", "customer_id", "type", "attributes", "occurred_at", "points_earned", "rules_version",
     "request_hash", "created_at"],
    returning="id",
)
_FIND = Statement(
    "SELECT e.*, c.external_id AS customer_external_id FROM engagement_events e"
    " JOIN customers c ON c.id = e.customer_id WHERE e.external_id = :external_id"
)


class Events(Repository):
    async def add(
        self, customer: Customer, event: ValidEvent, *, points: int, rules_version: str, now: datetime
    ) -> StoredEvent:
        """No existence check first: the unique index on external_id refuses a replay
        (AlreadyStored), which then rolls back and is answered from the stored event."""
        self.session.writing()
        # In UTC, as the database gives it back, so that a replay answers the same instant alike.
        occurred_at = as_utc(event.occurred_at or now)
        [row] = await self.conn.fetch(
            _INSERT,
            {
                "external_id": event.external_id,
                "customer_id": self.session.customers.snapshot(customer).id,
                "type": event.facts.type,
                "attributes": to_json(dict(event.facts.attributes)),
                "occurred_at": occurred_at,
                "points_earned": points,
                "rules_version": rules_version,
                "request_hash": event.request_hash,
                "created_at": now,
            },
        )
        self.session.seen.events[event.external_id] = row["id"]
        return StoredEvent(
            external_id=event.external_id,
            customer_external_id=customer.external_id,
            type=event.facts.type,
            occurred_at=occurred_at,
            points_earned=points,
            rules_version=rules_version,
            request_hash=event.request_hash,
        )

    async def get(self, external_id: str) -> StoredEvent | None:
        rows = await self.conn.fetch(_FIND, {"external_id": external_id})
        if not rows:
            return None
        row = ENGAGEMENT_EVENTS.decode(rows[0])
        return record(StoredEvent, row, awards=earned_awards(await earn_entries_of(self.conn, event_id=row["id"])))
