"""Webhook endpoints over GraphQL: for API keys with events:read (the partner that owns
them) or admin. Resolvers check the caller, call one use case and map the result."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.paging import PageInfo, page_info, page_size
from api.permissions import any_scope
from app import webhooks
from app.webhooks import AttemptRow, DeliveryRow, WebhookRow
from domain.auth import ApiKeyCaller, Scope
from domain.errors import DomainError

MANAGE = [any_scope(Scope.EVENTS_READ)]
MAX_DELIVERIES_PAGE = 100  # as app.webhooks.deliveries holds it


@strawberry.type(description="One HTTP attempt of a delivery.")
class WebhookAttempt:
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    attempted_at: datetime


@strawberry.type(description="One event to one endpoint: pending until a 2xx, failed when the schedule runs out.")
class WebhookDelivery:
    id: str
    event_id: str
    event_type: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    attempt_log: list[WebhookAttempt]

    @classmethod
    def of(cls, row: DeliveryRow, attempts: list[AttemptRow]) -> WebhookDelivery:
        return cls(
            id=str(row.id),
            event_id=str(row.event_id),
            event_type=row.event_type,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
            attempt_log=[
                WebhookAttempt(
                    attempt=a.attempt,
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    error=a.error,
                    attempted_at=a.attempted_at,
                )
                for a in attempts
            ],
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    has_next_page: bool = strawberry.field(deprecation_reason="Use pageInfo.hasNextPage.")
    end_cursor: str | None = strawberry.field(deprecation_reason="Use pageInfo.endCursor.")


@strawberry.type(description="A partner's endpoint for reward events, signed per the Standard Webhooks specification.")
class Webhook:
    id: str
    url: str
    event_types: list[str] | None = strawberry.field(description="null: every type.")
    secret: str = strawberry.field(description="whsec_<base64>: verify deliveries with it.")
    enabled: bool
    disabled_reason: str | None = strawberry.field(description="Why deliveries stopped, when they did.")
    disabled_at: datetime | None
    last_success_at: datetime | None
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookRow) -> Webhook:
        return cls(
            id=str(row.id),
            url=row.url,
            event_types=list(row.event_types) if row.event_types is not None else None,
            secret=row.secret,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            disabled_at=row.disabled_at,
            last_success_at=row.last_success_at,
            created_by=row.created_by,
            created_at=row.created_at,
        )

    @strawberry.field(description="The delivery log, newest first.")
    async def deliveries(self, info: Info, first: int = 20, after: str | None = None) -> WebhookDeliveryConnection:
        rows, attempts, more = await webhooks.deliveries(
            info.context.services.uow, self.id, page_size(first, MAX_DELIVERIES_PAGE), after
        )
        edges = [WebhookDeliveryEdge(cursor=str(r.id), node=WebhookDelivery.of(r, attempts[r.id])) for r in rows]
        paging = page_info(edges, more=more, after=after)
        return WebhookDeliveryConnection(
            edges=edges, page_info=paging, has_next_page=paging.has_next_page, end_cursor=paging.end_cursor
        )


@strawberry.input
class RegisterWebhookInput:
    url: str
    event_types: list[str] | None = strawberry.field(default=None, description="Leave out for every type.")


@strawberry.input
class UpdateWebhookInput:
    id: str
    url: str | None = None
    event_types: list[str] | None = strawberry.field(default=strawberry.UNSET, description="null: every type.")
    enabled: bool | None = None


@strawberry.type
class WebhookPayload:
    webhook: Webhook | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteWebhookPayload:
    deleted_id: str | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RedeliverPayload:
    delivery: WebhookDelivery | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _caller_name(info: Info) -> str:
    caller = info.context.caller
    return caller.name if isinstance(caller, ApiKeyCaller) else "unknown"


def _allow_private(info: Info) -> bool:
    return info.context.services.settings.webhooks_allow_private_targets


async def _update(info: Info, input: UpdateWebhookInput) -> WebhookPayload:
    every_type = input.event_types is None
    types = None if input.event_types is strawberry.UNSET else input.event_types
    try:
        row = await webhooks.update_webhook(
            info.context.services.uow,
            input.id,
            url=input.url,
            event_types=types,
            every_type=every_type,
            enabled=input.enabled,
            by=_caller_name(info),
            allow_private=_allow_private(info),
        )
    except DomainError as error:
        return WebhookPayload(errors=user_errors(error))
    return WebhookPayload(webhook=Webhook.of(row))


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="Every webhook endpoint.", permission_classes=MANAGE)
    async def webhooks(self, info: Info) -> list[Webhook]:
        return [Webhook.of(row) for row in await webhooks.list_webhooks(info.context.services.uow)]

    @strawberry.field(permission_classes=MANAGE)
    async def webhook(self, info: Info, id: str) -> Webhook | None:
        try:
            return Webhook.of(await webhooks.get_webhook(info.context.services.uow, id))
        except DomainError:
            return None


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="A new endpoint; its URL must resolve to public addresses. Answers the signing secret.",
        permission_classes=MANAGE,
    )
    async def register_webhook(self, info: Info, input: RegisterWebhookInput) -> WebhookPayload:
        try:
            row = await webhooks.register_webhook(
                info.context.services.uow,
                input.url,
                input.event_types,
                by=_caller_name(info),
                allow_private=_allow_private(info),
            )
        except DomainError as error:
            return WebhookPayload(errors=user_errors(error))
        return WebhookPayload(webhook=Webhook.of(row))

    @strawberry.mutation(
        description="Changes the URL, the event types or whether it is enabled (enabling clears the reason).",
        permission_classes=MANAGE,
    )
    async def update_webhook(self, info: Info, input: UpdateWebhookInput) -> WebhookPayload:
        return await _update(info, input)

    @strawberry.mutation(description="Stops deliveries until enabled again.", permission_classes=MANAGE)
    async def disable_webhook(self, info: Info, id: str) -> WebhookPayload:
        return await _update(info, UpdateWebhookInput(id=id, enabled=False))

    @strawberry.mutation(description="The endpoint, its deliveries and their log.", permission_classes=MANAGE)
    async def delete_webhook(self, info: Info, id: str) -> DeleteWebhookPayload:
        try:
            return DeleteWebhookPayload(deleted_id=str(await webhooks.delete_webhook(info.context.services.uow, id)))
        except DomainError as error:
            return DeleteWebhookPayload(errors=user_errors(error))

    @strawberry.mutation(
        description="A new secret; the old one keeps signing beside it for 24 hours.", permission_classes=MANAGE
    )
    async def rotate_webhook_secret(self, info: Info, id: str) -> WebhookPayload:
        try:
            return WebhookPayload(webhook=Webhook.of(await webhooks.rotate_secret(info.context.services.uow, id)))
        except DomainError as error:
            return WebhookPayload(errors=user_errors(error))

    @strawberry.mutation(
        description="Sends an event to the endpoint again (same webhook-id), from the start of the schedule.",
        permission_classes=MANAGE,
    )
    async def redeliver_event(self, info: Info, webhook_id: str, event_id: str) -> RedeliverPayload:
        try:
            row = await webhooks.redeliver(info.context.services.uow, webhook_id, event_id)
        except DomainError as error:
            return RedeliverPayload(errors=user_errors(error))
        return RedeliverPayload(delivery=WebhookDelivery.of(row, []))
