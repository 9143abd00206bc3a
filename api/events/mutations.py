from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import UserError, user_errors
from api.events.types import Event
from api.orders.mutations import AppliedRule
from api.permissions import any_scope
from app import engagement
from domain.auth import Scope
from domain.errors import DomainError
from domain.events import EventInput


@strawberry.input
class RecordEventInput:
    external_id: str
    customer_external_id: str
    type: str = strawberry.field(description="review.published, social.followed, survey.completed or a custom type.")
    occurred_at: datetime | None = None
    attributes: JSON | None = strawberry.field(default=None, description="A JSON object of at most 50 names.")


@strawberry.type
class RecordEventPayload:
    event: Event | None = None
    points_earned: int = 0
    replayed: bool = strawberry.field(
        default=False, description="True when this event id was already recorded: nothing new was written."
    )
    applied_rules: list[AppliedRule] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EventMutations:
    @strawberry.mutation(
        description="Idempotent on externalId: recording an event again returns the first result.",
        permission_classes=[any_scope(Scope.ORDERS_WRITE)],
    )
    async def record_event(self, info: Info, input: RecordEventInput) -> RecordEventPayload:
        data = EventInput(
            external_id=input.external_id,
            customer_external_id=input.customer_external_id,
            type=input.type,
            occurred_at=input.occurred_at,
            attributes=input.attributes,
        )
        try:
            result = await engagement.record_event(info.context.services.uow, info.context.services.program, data)
        except DomainError as error:
            return RecordEventPayload(errors=user_errors(error))
        return RecordEventPayload(
            event=Event.of(result.event),
            points_earned=result.points_earned,
            replayed=result.replayed,
            applied_rules=AppliedRule.of(result.event.awards),
        )
