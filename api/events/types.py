from __future__ import annotations

from datetime import datetime

import strawberry

from app.engagement import StoredEvent


@strawberry.type(description="An engagement event the store recorded (a review, a follow, a survey...).")
class Event:
    external_id: str
    customer_external_id: str
    type: str
    occurred_at: datetime
    points_earned: int
    rules_version: str

    @classmethod
    def of(cls, event: StoredEvent) -> Event:
        return cls(
            external_id=event.external_id,
            customer_external_id=event.customer_external_id,
            type=event.type,
            occurred_at=event.occurred_at,
            points_earned=event.points_earned,
            rules_version=event.rules_version,
        )
