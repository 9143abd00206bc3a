"""Use cases on webhook endpoints: register, list, update, disable, delete, rotate the
secret, redeliver. Sending is app/delivery.py."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from app.clock import utcnow
from app.event_stream import START_WINDOW
from app.events import EVENT_TYPES
from domain.errors import DomainError, ErrorCode
from domain.webhooks import WebhookTarget, refused_address, validate_event_types, validate_url
from persistence.unit_of_work import Session, UnitOfWork
from persistence.webhooks import AttemptRow, DeliveryRow, WebhookRow

__all__ = [
    "AttemptRow",
    "DeliveryRow",
    "WebhookRow",
    "check_target",
    "delete_webhook",
    "deliveries",
    "get_webhook",
    "list_webhooks",
    "new_secret",
    "parse_id",
    "redeliver",
    "register_webhook",
    "rotate_secret",
    "update_webhook",
]

SECRET_BYTES = 32  # at least 24, as the Standard Webhooks specification asks
# After a rotation the old secret still signs (beside the new one) for this long, so
# receivers can switch to the new secret at their own pace.
ROTATION_OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def check_target(target: WebhookTarget, *, allow_private: bool, field: list[str]) -> None:
    """Refuses a host that resolves to a loopback, private, link-local or metadata
    address. Run at registration and before every delivery (DNS may change between)."""
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(target.host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise DomainError(
            ErrorCode.WEBHOOK_TARGET_REFUSED, f"The host '{target.host}' does not resolve.", field
        ) from None
    for info in infos:
        address = str(info[4][0])
        reason = refused_address(address)
        if reason:
            raise DomainError(
                ErrorCode.WEBHOOK_TARGET_REFUSED,
                f"The host '{target.host}' resolves to {address}, {reason}; webhooks go to public addresses only.",
                field,
            )


async def register_webhook(
    uow: UnitOfWork, url: str, event_types: Sequence[str] | None, *, by: str, allow_private: bool
) -> WebhookRow:
    target = validate_url(url, allow_private=allow_private, field=["url"])
    types = validate_event_types(event_types, EVENT_TYPES, ["event_types"])
    await check_target(target, allow_private=allow_private, field=["url"])
    async with uow.transaction() as session:
        # Events still being written when it registers have lower ids than the newest:
        # the fan-out starts a window back, and takes those that occur from now on.
        await session.webhooks.start_fan_out_after(max(0, await session.outbox.last_event_id() - START_WINDOW))
        webhook = await session.webhooks.insert_webhook(target.url, types, new_secret(), by, utcnow())
        # Delivery workers that knew of no enabled endpoint skip their rounds until told
        # (at commit).
        await session.webhooks.announce_change()
    return webhook


async def get_webhook(uow: UnitOfWork, webhook_id: str) -> WebhookRow:
    async with uow.reading() as session:
        return await _webhook(session, webhook_id)


async def _webhook(session: Session, webhook_id: str) -> WebhookRow:
    webhook = await session.webhooks.find_webhook(parse_id(webhook_id, ["id"]))
    if webhook is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No webhook has the id '{webhook_id}'.", ["id"])
    return webhook


async def list_webhooks(uow: UnitOfWork) -> list[WebhookRow]:
    async with uow.reading() as session:
        return await session.webhooks.all_webhooks()


async def update_webhook(
    uow: UnitOfWork,
    webhook_id: str,
    *,
    url: str | None,
    event_types: Sequence[str] | None,
    every_type: bool,
    enabled: bool | None,
    by: str,
    allow_private: bool,
) -> WebhookRow:
    # Read, checked (the URL's host resolved), then saved: no session is held across the look-up.
    webhook = await get_webhook(uow, webhook_id)
    if url is not None:
        target = validate_url(url, allow_private=allow_private, field=["url"])
        await check_target(target, allow_private=allow_private, field=["url"])
        webhook = replace(webhook, url=target.url)
    if every_type:
        webhook = replace(webhook, event_types=None)
    elif event_types is not None:
        webhook = replace(webhook, event_types=validate_event_types(event_types, EVENT_TYPES, ["event_types"]))
    now = utcnow()
    if enabled is True:
        webhook = replace(webhook, enabled=True, disabled_reason=None, disabled_at=None)
    elif enabled is False and webhook.enabled:
        webhook = replace(webhook, enabled=False, disabled_reason=f"Disabled by {by}.", disabled_at=now)
    webhook = replace(webhook, updated_at=now)
    async with uow.transaction() as session:
        await session.webhooks.save_webhook(webhook)
        if webhook.enabled:
            await session.webhooks.announce_change()
    return webhook


async def delete_webhook(uow: UnitOfWork, webhook_id: str) -> int:
    async with uow.transaction() as session:
        webhook = await _webhook(session, webhook_id)
        await session.webhooks.delete_webhook(webhook.id)
    return webhook.id


async def rotate_secret(uow: UnitOfWork, webhook_id: str) -> WebhookRow:
    async with uow.transaction() as session:
        webhook = await _webhook(session, webhook_id)
        now = utcnow()
        webhook = replace(
            webhook,
            previous_secret=webhook.secret,
            previous_secret_until=now + ROTATION_OVERLAP,
            secret=new_secret(),
            updated_at=now,
        )
        await session.webhooks.save_webhook(webhook)
    return webhook


async def redeliver(uow: UnitOfWork, webhook_id: str, event_id: str) -> DeliveryRow:
    async with uow.transaction() as session:
        webhook = await _webhook(session, webhook_id)
        event = parse_id(event_id, ["event_id"])
        if not await session.webhooks.event_exists(event):
            raise DomainError(ErrorCode.NOT_FOUND, f"No reward event has the id '{event_id}'.", ["event_id"])
        delivery = await session.webhooks.redeliver(webhook.id, event, utcnow())
        await session.webhooks.announce_change()
        return delivery


async def deliveries(
    uow: UnitOfWork, webhook_id: str, first: int, after: str | None
) -> tuple[list[DeliveryRow], dict[int, list[AttemptRow]], bool]:
    async with uow.reading() as session:
        webhook = await _webhook(session, webhook_id)
        if not 0 < first <= 100:
            raise DomainError(ErrorCode.INVALID, "first must be between 1 and 100.", ["first"])
        return await session.webhooks.deliveries_page(webhook.id, first, parse_id(after, ["after"]) if after else None)


def parse_id(value: str, field: list[str]) -> int:
    if not value.isdigit() or len(value) > 18:
        raise DomainError(ErrorCode.INVALID_ID, f"'{value}' is not an id.", field)
    return int(value)
