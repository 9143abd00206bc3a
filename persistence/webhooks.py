"""Webhook endpoints, their deliveries and the log of attempts.

The hot paths (fan-out, claiming, recording results) are hand-written SQL through
persistence.sql, a few statements per batch of deliveries; the rest is the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persistence import event_models as m
from persistence import outbox, sql
from persistence.notifications import REWARD_EVENTS_CHANNEL, WEBHOOKS_CHANGED
from persistence.outbox import OutboxEvent

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
FAN_OUT_CURSOR = "webhooks"
# Rows per multi-row INSERT: SQLite takes at most 32766 values in one statement.
_CHUNK = 1000


# ---- endpoints ----------------------------------------------------------------------------


async def insert_webhook(url: str, event_types: list[str] | None, secret: str, by: str, now: datetime) -> m.Webhook:
    return await m.Webhook.create(
        url=url, event_types=event_types, secret=secret, created_by=by, created_at=now, updated_at=now
    )


async def find_webhook(webhook_id: int) -> m.Webhook | None:
    return await m.Webhook.get_or_none(id=webhook_id)


async def all_webhooks() -> list[m.Webhook]:
    return await m.Webhook.all().order_by("id")


async def save_webhook(webhook: m.Webhook) -> None:
    await webhook.save()


async def any_enabled() -> bool:
    return bool(await sql.fetch("SELECT 1 AS found FROM webhooks WHERE enabled LIMIT 1"))


# Called when endpoints may have more work than delivery workers last read (one registered,
# enabled, an event redelivered): the delivery workers of this process (every process's on
# PostgreSQL, by NOTIFY to their LISTEN connections; see app.delivery).
changed_listeners: list[Callable[[], None]] = []


async def announce_change() -> None:
    """After the change has committed, so that whoever is told reads it."""
    if sql.on_postgres():
        await sql.execute("SELECT pg_notify($1, $2)", REWARD_EVENTS_CHANNEL, WEBHOOKS_CHANGED)
    for listener in list(changed_listeners):
        listener()


async def delete_webhook(webhook_id: int) -> bool:
    # Deliveries and their attempts go with it (ON DELETE CASCADE).
    return bool(await m.Webhook.filter(id=webhook_id).delete())


# ---- fan-out: one delivery per event and endpoint that takes it ---------------------------


async def fan_out(upto: int, now: datetime, limit: int) -> int | None:
    """Within a transaction: deliveries for events after the shared cursor, up to `upto`.
    The number of events read, or None when another worker holds the cursor. Writes
    nothing when no endpoint is enabled (idle workers must not hold SQLite's write lock)."""
    hooks = await m.Webhook.filter(enabled=True).values("id", "event_types", "created_at")
    if not hooks:
        return 0
    lock = " FOR UPDATE SKIP LOCKED" if sql.on_postgres() else ""
    rows = await sql.fetch(f"SELECT last_event_id FROM outbox_cursors WHERE name = $1{lock}", FAN_OUT_CURSOR)
    if not rows:
        return None
    cursor = int(rows[0]["last_event_id"])
    if cursor >= upto:
        return 0
    events = await outbox.events_after(cursor, upto, None, limit)
    pairs = [
        (hook["id"], event.id)
        for event in events
        for hook in hooks
        if (hook["event_types"] is None or event.type in hook["event_types"])
        and event.occurred_at >= hook["created_at"]
    ]
    await _insert_deliveries(pairs, now)
    await _move_cursor(events[-1].id if len(events) == limit else upto)
    return len(events)


async def start_fan_out_after(event_id: int) -> None:
    """Within a transaction, when an endpoint is registered: the fan-out need not read
    events older than this (they occurred before any endpoint now enabled existed)."""
    rows = await sql.fetch("SELECT last_event_id FROM outbox_cursors WHERE name = $1", FAN_OUT_CURSOR)
    if not rows:
        await sql.execute(
            "INSERT INTO outbox_cursors (name, last_event_id) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            FAN_OUT_CURSOR,
            event_id,
        )
    elif int(rows[0]["last_event_id"]) < event_id:
        await _move_cursor(event_id)


async def _move_cursor(last_event_id: int) -> None:
    await sql.execute("UPDATE outbox_cursors SET last_event_id = $1 WHERE name = $2", last_event_id, FAN_OUT_CURSOR)


async def _insert_deliveries(pairs: Sequence[tuple[int, int]], now: datetime) -> None:
    for start in range(0, len(pairs), _CHUNK):
        columns, values = sql.values_rows(
            [(hook, event, PENDING, 0, now, now) for hook, event in pairs[start : start + _CHUNK]]
        )
        await sql.execute(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, status, attempts, next_attempt_at, created_at)"
            f" VALUES {columns} ON CONFLICT (webhook_id, event_id) DO NOTHING",
            *values,
        )


# ---- claiming and recording ---------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    webhook: m.Webhook
    event: OutboxEvent
    attempt: int
    created_at: datetime


async def claim_due(now: datetime, locked_until: datetime, limit: int) -> list[Claim]:
    """Takes due deliveries for this worker until `locked_until` (then, if it died, another
    worker takes them again). SKIP LOCKED keeps concurrent workers off each other's rows."""
    if not await sql.fetch(
        "SELECT 1 AS due FROM webhook_deliveries WHERE status = $1 AND next_attempt_at <= $2 LIMIT 1", PENDING, now
    ):
        return []  # and no write: idle workers must not take SQLite's write lock
    lock = " FOR UPDATE OF d SKIP LOCKED" if sql.on_postgres() else ""
    rows = await sql.fetch(
        "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN ("
        " SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
        " WHERE d.status = $2 AND d.next_attempt_at <= $3 AND (d.locked_until IS NULL OR d.locked_until < $4)"
        f" AND w.enabled ORDER BY d.next_attempt_at LIMIT $5{lock})"
        " RETURNING id, webhook_id, event_id, attempts, created_at",
        locked_until,
        PENDING,
        now,
        now,
        limit,
    )
    if not rows:
        return []
    hooks = {h.id: h for h in await m.Webhook.filter(id__in={r["webhook_id"] for r in rows})}
    events = await outbox.events_by_ids([r["event_id"] for r in rows])
    return [
        Claim(
            r["id"],
            hooks[r["webhook_id"]],
            events[r["event_id"]],
            int(r["attempts"]) + 1,
            _as_datetime(r["created_at"]),
        )
        for r in rows
        if r["webhook_id"] in hooks
    ]


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    status_code: int | None
    latency_ms: int
    error: str | None
    delivered: bool
    next_attempt_at: datetime | None
    """When to try again; None with delivered False: the delivery has failed for good."""


async def record(outcomes: Sequence[Outcome], disables: dict[int, str], now: datetime) -> None:
    """Within a transaction: endpoints' last success and those to disable, then the
    attempts and the deliveries' new state. Endpoint rows are locked first and in id order,
    as deleting an endpoint locks it before its deliveries (cascade): another order
    deadlocked with it, and with other workers."""
    succeeded = {o.claim.webhook.id for o in outcomes if o.delivered}
    for webhook_id in sorted(succeeded | disables.keys()):
        if webhook_id in disables:
            await disable(webhook_id, disables[webhook_id], now)
        else:
            await sql.execute("UPDATE webhooks SET last_success_at = $1 WHERE id = $2", now, webhook_id)
    for start in range(0, len(outcomes), _CHUNK):
        columns, values = sql.values_rows(
            [
                (o.claim.delivery_id, o.claim.attempt, o.status_code, o.latency_ms, o.error, now)
                for o in outcomes[start : start + _CHUNK]
            ]
        )
        await sql.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, error, attempted_at)"
            f" VALUES {columns}",
            *values,
        )
    by_code: dict[int | None, list[int]] = {}
    for o in outcomes:
        if o.delivered:
            by_code.setdefault(o.status_code, []).append(o.claim.delivery_id)
    for code, ids in by_code.items():
        marks, values = _marks(ids, 4)
        await sql.execute(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2,"
            f" last_error = NULL, delivered_at = $3, locked_until = NULL WHERE id IN ({marks})",
            DELIVERED,
            code,
            now,
            *values,
        )
    for o in outcomes:
        if not o.delivered:
            await sql.execute(
                "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2,"
                " last_error = $3, next_attempt_at = $4, locked_until = NULL WHERE id = $5",
                PENDING if o.next_attempt_at else FAILED,
                o.status_code,
                o.error,
                o.next_attempt_at,
                o.claim.delivery_id,
            )


async def disable(webhook_id: int, reason: str, now: datetime) -> None:
    await m.Webhook.filter(id=webhook_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:1000], disabled_at=now, updated_at=now
    )


# ---- the delivery log ---------------------------------------------------------------------


async def deliveries_page(
    webhook_id: int, first: int, before_id: int | None
) -> tuple[list[m.WebhookDelivery], dict[int, list[m.WebhookAttempt]], bool]:
    """Newest first, with each delivery's attempts (oldest first)."""
    query = m.WebhookDelivery.filter(webhook_id=webhook_id)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    rows = await query.order_by("-id").limit(first + 1).select_related("event")
    page = rows[:first]
    attempts: dict[int, list[m.WebhookAttempt]] = {row.id: [] for row in page}
    for attempt in await m.WebhookAttempt.filter(delivery_id__in=list(attempts)).order_by("id"):
        attempts[attempt.delivery_id].append(attempt)  # type: ignore[attr-defined]
    return page, attempts, len(rows) > first


async def redeliver(webhook_id: int, event_id: int, now: datetime) -> m.WebhookDelivery:
    """The event to the endpoint again, from the first step of the schedule."""
    delivery, created = await m.WebhookDelivery.get_or_create(
        webhook_id=webhook_id,
        event_id=event_id,
        defaults={"status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now},
    )
    if not created:
        delivery.status = PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.locked_until = None
        delivery.created_at = now
        await delivery.save()
    return delivery


async def event_exists(event_id: int) -> bool:
    return bool(await sql.fetch("SELECT 1 AS found FROM reward_events WHERE id = $1", event_id))


def _marks(ids: Sequence[int], first: int) -> tuple[str, list[Any]]:
    return ", ".join(f"${first + i}" for i in range(len(ids))), list(ids)


def _as_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value
