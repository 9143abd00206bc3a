"""Reward events for partners: the `rewardEvents` subscription (graphql-transport-ws)
and the `rewardEvents` query for partners that poll. Both read app.event_stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from api.context import Info
from api.paging import PageInfo, bad_input, page_info, page_size
from api.permissions import any_scope
from app.event_stream import OutboxEvent, SlowSubscriber, events_page, reward_events
from app.events import EVENT_TYPES
from domain.auth import Scope

MAX_PAGE = 500


@strawberry.type(description="Something that happened to a customer's points, tier or rewards, told to partners.")
class RewardEvent:
    id: str = strawberry.field(description="Stable and increasing: deduplicate on it, resume after it.")
    type: str
    customer_external_id: str | None
    sequence: int | None = strawberry.field(description="1, 2, 3... per customer: puts one customer's events in order.")
    occurred_at: datetime
    rules_version: str | None
    payload: JSON = strawberry.field(description="What a partner needs for this type (see docs/events.md).")

    @classmethod
    def of(cls, event: OutboxEvent) -> RewardEvent:
        return cls(
            id=str(event.id),
            type=event.type,
            customer_external_id=event.customer_external_id,
            sequence=event.customer_sequence,
            occurred_at=event.occurred_at,
            rules_version=event.rules_version,
            payload=event.payload,  # type: ignore[arg-type]
        )


@strawberry.type
class RewardEventEdge:
    cursor: str
    node: RewardEvent


@strawberry.type
class RewardEventConnection:
    edges: list[RewardEventEdge]
    page_info: PageInfo


def _after(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or len(after) > 18:
        raise bad_input(f"'{after}' is not a reward event id.", "after")
    return int(after)


def _types(types: list[str] | None) -> list[str] | None:
    unknown = [t for t in types or [] if t not in EVENT_TYPES]
    if unknown:
        raise bad_input(f"'{unknown[0]}' is not an event type; one of: {', '.join(EVENT_TYPES)}.", "types")
    return types or None


@strawberry.type
class RewardEventQueries:
    @strawberry.field(
        name="rewardEvents",
        description="Reward events oldest first, after the event id `after`: what subscriptions send.",
        permission_classes=[any_scope(Scope.EVENTS_READ)],
    )
    async def reward_events_page(
        self, info: Info, first: int = 100, after: str | None = None, types: list[str] | None = None
    ) -> RewardEventConnection:
        services = info.context.services
        rows, more = await events_page(
            services.uow, services.events, _after(after), _types(types), page_size(first, MAX_PAGE)
        )
        edges = [RewardEventEdge(cursor=str(row.id), node=RewardEvent.of(row)) for row in rows]
        return RewardEventConnection(
            edges=edges,
            # An empty page's end is where it was asked from: polling resumes there.
            page_info=page_info(edges, more=more, after=after, empty_end=after),
        )


@strawberry.type
class RewardEventSubscriptions:
    @strawberry.subscription(
        description="Every reward event from now on, or after the event id `after` (missed ones replayed first)."
        " A client that reads too slowly is ended with an error naming where to resume.",
        permission_classes=[any_scope(Scope.EVENTS_READ)],
    )
    async def reward_events(
        self, info: Info, types: list[str] | None = None, after: str | None = None
    ) -> AsyncGenerator[RewardEvent, None]:
        services = info.context.services
        stream = reward_events(services.uow, services.events, _after(after), _types(types))
        try:
            async for event in stream:
                yield RewardEvent.of(event)
        except SlowSubscriber as slow:
            raise GraphQLError(
                str(slow), extensions={"code": "SLOW_SUBSCRIBER", "resumeAfter": str(slow.last_id)}
            ) from None
        finally:
            await stream.aclose()
