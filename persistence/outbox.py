"""The outbox of reward events, written in the transaction that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from persistence.repository import Repository
from persistence.statements import RowsInsert
from persistence.tables import REWARD_EVENTS, to_json

Event = tuple[str, str | None, dict]
"""A reward event's type, customer external id and payload."""

EVENT_COLUMNS = ("type", "customer_external_id", "occurred_at", "payload")
_INSERT = RowsInsert(REWARD_EVENTS, EVENT_COLUMNS)


def event_rows(events: Sequence[Event], now: datetime) -> list[dict]:
    return [
        {"type": t, "customer_external_id": c, "occurred_at": now, "payload": to_json(p)} for t, c, p in events
    ]


class Outbox(Repository):
    async def add(self, events: Sequence[Event], now: datetime) -> None:
        if events:
            self.session.writing()
            rows = event_rows(events, now)
            await self.conn.execute(_INSERT.statement(len(rows)), _INSERT.params(rows))
