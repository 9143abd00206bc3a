"""Use cases on webhook endpoints: register, list, update, disable, delete, rotate the
secret, redeliver. Sending is app/delivery.py."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
from collections.abc import Sequence
from datetime import timedelta

from app.clock import utcnow
from app.event_stream import START_WINDOW
from app.events import EVENT_TYPES
from domain.errors import DomainError, ErrorCode
from domain.webhooks import WebhookTarget, refused_address, validate_event_types, validate_url
from persistence import event_models as m
from persistence import outbox
from persistence import repositories as repo
from persistence import webhooks as store

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


async def register_webhook(url: str, event_types: Sequence[str] | None, *, by: str, allow_private: bool) -> m.Webhook:
    target = validate_url(url, allow_private=allow_private, field=["url"])
    types = validate_event_types(event_types, EVENT_TYPES, ["eventTypes"])
    await check_target(target, allow_private=allow_private, field=["url"])
    async with repo.transaction():
        # Events still being written when it registers have lower ids than the newest:
        # the fan-out starts a window back, and takes those that occur from now on.
        await store.start_fan_out_after(max(0, await outbox.last_event_id() - START_WINDOW))
        webhook = await store.insert_webhook(target.url, types, new_secret(), by, utcnow())
    # Delivery workers that knew of no enabled endpoint skip their rounds until told.
    await store.announce_change()
    return webhook


async def get_webhook(webhook_id: str) -> m.Webhook:
    webhook = await store.find_webhook(parse_id(webhook_id, ["id"]))
    if webhook is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No webhook has the id '{webhook_id}'.", ["id"])
    return webhook


async def list_webhooks() -> list[m.Webhook]:
    return await store.all_webhooks()


async def update_webhook(
    webhook_id: str,
    *,
    url: str | None,
    event_types: Sequence[str] | None,
    every_type: bool,
    enabled: bool | None,
    by: str,
    allow_private: bool,
) -> m.Webhook:
    webhook = await get_webhook(webhook_id)
    if url is not None:
        target = validate_url(url, allow_private=allow_private, field=["url"])
        await check_target(target, allow_private=allow_private, field=["url"])
        webhook.url = target.url
    if every_type:
        webhook.event_types = None
    elif event_types is not None:
        webhook.event_types = validate_event_types(event_types, EVENT_TYPES, ["eventTypes"])
    now = utcnow()
    if enabled is True:
        webhook.enabled, webhook.disabled_reason, webhook.disabled_at = True, None, None
    elif enabled is False and webhook.enabled:
        webhook.enabled, webhook.disabled_reason, webhook.disabled_at = False, f"Disabled by {by}.", now
    webhook.updated_at = now
    await store.save_webhook(webhook)
    if webhook.enabled:
        await store.announce_change()
    return webhook


async def delete_webhook(webhook_id: str) -> int:
    webhook = await get_webhook(webhook_id)
    await store.delete_webhook(webhook.id)
    return webhook.id


async def rotate_secret(webhook_id: str) -> m.Webhook:
    webhook = await get_webhook(webhook_id)
    now = utcnow()
    webhook.previous_secret, webhook.previous_secret_until = webhook.secret, now + ROTATION_OVERLAP
    webhook.secret = new_secret()
    webhook.updated_at = now
    await store.save_webhook(webhook)
    return webhook


async def redeliver(webhook_id: str, event_id: str) -> m.WebhookDelivery:
    webhook = await get_webhook(webhook_id)
    event = parse_id(event_id, ["eventId"])
    if not await store.event_exists(event):
        raise DomainError(ErrorCode.NOT_FOUND, f"No reward event has the id '{event_id}'.", ["eventId"])
    delivery = await store.redeliver(webhook.id, event, utcnow())
    await store.announce_change()
    return delivery


async def deliveries(
    webhook_id: str, first: int, after: str | None
) -> tuple[list[m.WebhookDelivery], dict[int, list[m.WebhookAttempt]], bool]:
    webhook = await get_webhook(webhook_id)
    if not 0 < first <= 100:
        raise DomainError(ErrorCode.INVALID, "first must be between 1 and 100.", ["first"])
    return await store.deliveries_page(webhook.id, first, parse_id(after, ["after"]) if after else None)


def parse_id(value: str, field: list[str]) -> int:
    if not value.isdigit() or len(value) > 18:
        raise DomainError(ErrorCode.INVALID_ID, f"'{value}' is not an id.", field)
    return int(value)
