"""Webhook endpoints, their deliveries and the log of attempts.

Every statement is SQL through persistence.sql, a few per batch of deliveries on the hot
paths (fan-out, claiming, recording results); rows come back as the plain dataclasses
below, with the conversions the ORM made (SQLite hands back times and JSON as text,
booleans as integers).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persistence import notifications, outbox, sql
from persistence.notifications import WEBHOOKS_CHANGED
from persistence.outbox import OutboxEvent
from persistence.statements import named

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
FAN_OUT_CURSOR = "webhooks"
# Rows per multi-row INSERT: SQLite takes at most 32766 values in one statement.
_CHUNK = 1000


# ---- endpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRow:
    id: int
    url: str
    event_types: list[str] | None
    """None: every type."""
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_success_at: datetime | None


_WEBHOOK_COLUMNS = (
    "id, url, event_types, secret, previous_secret, previous_secret_until, enabled, disabled_reason, disabled_at,"
    " created_by, created_at, updated_at, last_success_at"
)


def _webhook(row: dict[str, Any]) -> WebhookRow:
    return WebhookRow(
        id=int(row["id"]),
        url=row["url"],
        event_types=_event_types(row["event_types"]),
        secret=row["secret"],
        previous_secret=row["previous_secret"],
        previous_secret_until=_optional_moment(row["previous_secret_until"]),
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
        disabled_at=_optional_moment(row["disabled_at"]),
        created_by=row["created_by"],
        created_at=_moment(row["created_at"]),
        updated_at=_moment(row["updated_at"]),
        last_success_at=_optional_moment(row["last_success_at"]),
    )


async def insert_webhook(url: str, event_types: list[str] | None, secret: str, by: str, now: datetime) -> WebhookRow:
    rows = await sql.fetch_named(
        named(
            "INSERT INTO webhooks (url, event_types, secret, enabled, created_by, created_at, updated_at)"
            f" VALUES (:url, :event_types, :secret, :enabled, :by, :now, :now) RETURNING {_WEBHOOK_COLUMNS}"
        ),
        {
            "url": url,
            "event_types": _json_types(event_types),
            "secret": secret,
            "enabled": True,  # the model's default, which only the ORM supplied
            "by": by,
            "now": now,
        },
    )
    return _webhook(rows[0])


async def find_webhook(webhook_id: int) -> WebhookRow | None:
    rows = await sql.fetch_named(
        named(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id = :webhook_id"), {"webhook_id": webhook_id}
    )
    return _webhook(rows[0]) if rows else None


async def all_webhooks() -> list[WebhookRow]:
    return [_webhook(row) for row in await sql.fetch(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks ORDER BY id")]


async def save_webhook(webhook: WebhookRow) -> None:
    """What the use cases change (URL, types, state, secrets); not `last_success_at`, which
    the delivery worker sets meanwhile and a stale copy must not put back."""
    await sql.execute_named(
        named(
            "UPDATE webhooks SET url = :url, event_types = :event_types, secret = :secret, previous_secret ="
            " :previous_secret,"
            " previous_secret_until = :previous_secret_until, enabled = :enabled, disabled_reason ="
            " :disabled_reason, disabled_at = :disabled_at, updated_at = :updated_at"
            " WHERE id = :id"
        ),
        {
            "url": webhook.url,
            "event_types": _json_types(webhook.event_types),
            "secret": webhook.secret,
            "previous_secret": webhook.previous_secret,
            "previous_secret_until": webhook.previous_secret_until,
            "enabled": webhook.enabled,
            "disabled_reason": webhook.disabled_reason,
            "disabled_at": webhook.disabled_at,
            "updated_at": webhook.updated_at,
            "id": webhook.id,
        },
    )


async def any_enabled() -> bool:
    return bool(await sql.fetch("SELECT 1 AS found FROM webhooks WHERE enabled LIMIT 1"))


# Called when endpoints may have more work than delivery workers last read (one registered,
# enabled, an event redelivered): the delivery workers of this process (every process's on
# PostgreSQL, by NOTIFY to their LISTEN connections; see app.delivery).
changed_listeners: list[Callable[[], None]] = []


async def announce_change() -> None:
    """Within the change's transaction; told once it has committed, so that whoever is told reads it."""
    await notifications.announce(WEBHOOKS_CHANGED)
    for listener in list(changed_listeners):
        sql.after_commit(listener)


async def delete_webhook(webhook_id: int) -> bool:
    # Deliveries and their attempts go with it (ON DELETE CASCADE).
    return bool(
        await sql.fetch_named(
            named("DELETE FROM webhooks WHERE id = :webhook_id RETURNING id"), {"webhook_id": webhook_id}
        )
    )


# ---- fan-out: one delivery per event and endpoint that takes it ---------------------------


async def fan_out(upto: int, now: datetime, limit: int) -> int | None:
    """Within a transaction: deliveries for events after the shared cursor, up to `upto`.
    The number of events read, or None when another worker holds the cursor. Writes
    nothing when no endpoint is enabled (idle workers must not hold SQLite's write lock)."""
    hooks = [
        (int(row["id"]), _event_types(row["event_types"]), _moment(row["created_at"]))
        for row in await sql.fetch_named(
            named("SELECT id, event_types, created_at FROM webhooks WHERE enabled = :enabled"), {"enabled": True}
        )
    ]
    if not hooks:
        return 0
    lock = " FOR UPDATE SKIP LOCKED" if sql.on_postgres() else ""
    rows = await sql.fetch_named(
        named(f"SELECT last_event_id FROM outbox_cursors WHERE name = :cursor{lock}"),
        {"cursor": FAN_OUT_CURSOR},
    )
    if not rows:
        return None
    cursor = int(rows[0]["last_event_id"])
    if cursor >= upto:
        return 0
    events = await outbox.events_after(cursor, upto, None, limit)
    pairs = [
        (hook_id, event.id)
        for event in events
        for hook_id, types, created_at in hooks
        if (types is None or event.type in types) and event.occurred_at >= created_at
    ]
    await _insert_deliveries(pairs, now)
    await _move_cursor(events[-1].id if len(events) == limit else upto)
    return len(events)


async def start_fan_out_after(event_id: int) -> None:
    """Within a transaction, when an endpoint is registered: the fan-out need not read
    events older than this (they occurred before any endpoint now enabled existed)."""
    rows = await sql.fetch_named(
        named("SELECT last_event_id FROM outbox_cursors WHERE name = :cursor"),
        {"cursor": FAN_OUT_CURSOR},
    )
    if not rows:
        await sql.execute_named(
            named(
                "INSERT INTO outbox_cursors (name, last_event_id) VALUES (:cursor, :event_id) ON CONFLICT (name)"
                " DO NOTHING"
            ),
            {"cursor": FAN_OUT_CURSOR, "event_id": event_id},
        )
    elif int(rows[0]["last_event_id"]) < event_id:
        await _move_cursor(event_id)


async def _move_cursor(last_event_id: int) -> None:
    await sql.execute_named(
        named("UPDATE outbox_cursors SET last_event_id = :last_event_id WHERE name = :cursor"),
        {"last_event_id": last_event_id, "cursor": FAN_OUT_CURSOR},
    )


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
    webhook: WebhookRow
    event: OutboxEvent
    attempt: int
    created_at: datetime
    token: str
    """The claim's name on the row: its attempt is recorded only if the row still bears it."""


async def claim_due(now: datetime, locked_until: datetime, limit: int) -> list[Claim]:
    """Takes due deliveries for this worker until `locked_until` (then, if it died, another
    worker takes them again). SKIP LOCKED keeps concurrent workers off each other's rows.
    Each claim writes a new token on its rows, so that a claim that lapsed, or a delivery
    redelivered meanwhile, is not overwritten by the recording of an older attempt."""
    if not await sql.fetch_named(
        named("SELECT 1 AS due FROM webhook_deliveries WHERE status = :pending AND next_attempt_at <= :now LIMIT 1"),
        {"pending": PENDING, "now": now},
    ):
        return []  # and no write: idle workers must not take SQLite's write lock
    lock = " FOR UPDATE OF d SKIP LOCKED" if sql.on_postgres() else ""
    token = uuid.uuid4().hex
    rows = await sql.fetch_named(
        named(
            "UPDATE webhook_deliveries SET locked_until = :locked_until, claim_token = :token WHERE id IN ("
            " SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
            " WHERE d.status = :pending AND d.next_attempt_at <= :now AND (d.locked_until IS NULL OR"
            " d.locked_until < :now)"
            f" AND w.enabled ORDER BY d.next_attempt_at LIMIT :limit{lock})"
            " RETURNING id, webhook_id, event_id, attempts, created_at"
        ),
        {"locked_until": locked_until, "pending": PENDING, "now": now, "limit": limit, "token": token},
    )
    if not rows:
        return []
    marks, values = _marks(sorted({int(r["webhook_id"]) for r in rows}), 1)
    found = await sql.fetch(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id IN ({marks})", *values)
    hooks = {hook.id: hook for hook in map(_webhook, found)}
    events = await outbox.events_by_ids([r["event_id"] for r in rows])
    return [
        Claim(
            r["id"],
            hooks[r["webhook_id"]],
            events[r["event_id"]],
            int(r["attempts"]) + 1,
            _moment(r["created_at"]),
            token,
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
    attempts and the deliveries' new state. A delivery whose claim token changed since
    (redelivered, or claimed again after its claim lapsed) keeps its new state: the attempt
    is only logged. Endpoint rows are locked first and in id order, as deleting an
    endpoint locks it before its deliveries (cascade): another order deadlocked with it,
    and with other workers."""
    succeeded = {o.claim.webhook.id for o in outcomes if o.delivered}
    if disables:  # rare: one statement per endpoint, every one in id order
        for webhook_id in sorted(succeeded | disables.keys()):
            if webhook_id in disables:
                await disable(webhook_id, disables[webhook_id], now)
            else:
                await sql.execute_named(
                    named("UPDATE webhooks SET last_success_at = :now WHERE id = :webhook_id"),
                    {"now": now, "webhook_id": webhook_id},
                )
    elif succeeded:
        # One statement for every endpoint that answered (a batch spans many), which
        # locks their rows in id order all the same.
        marks, values = _marks(sorted(succeeded), 2)
        lock = " ORDER BY id FOR UPDATE" if sql.on_postgres() else ""
        await sql.execute(
            "UPDATE webhooks SET last_success_at = $1"
            f" WHERE id IN (SELECT id FROM webhooks WHERE id IN ({marks}){lock})",
            now,
            *values,
        )
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
    by_code: dict[tuple[int | None, str], list[int]] = {}
    for o in outcomes:
        if o.delivered:
            by_code.setdefault((o.status_code, o.claim.token), []).append(o.claim.delivery_id)
    for (code, token), ids in by_code.items():
        marks, values = _marks(ids, 5)
        await sql.execute(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2,"
            " last_error = NULL, delivered_at = $3, locked_until = NULL, claim_token = NULL"
            f" WHERE claim_token = $4 AND id IN ({marks})",
            DELIVERED,
            code,
            now,
            token,
            *values,
        )
    for o in outcomes:
        if not o.delivered:
            await sql.execute_named(
                named(
                    "UPDATE webhook_deliveries SET status = :status, attempts = attempts + 1,"
                    " last_status_code = :status_code, last_error = :error, next_attempt_at = :next_attempt_at,"
                    " locked_until = NULL, claim_token = NULL"
                    " WHERE id = :delivery_id AND claim_token = :token"
                ),
                {
                    "status": PENDING if o.next_attempt_at else FAILED,
                    "status_code": o.status_code,
                    "error": o.error,
                    "next_attempt_at": o.next_attempt_at,
                    "delivery_id": o.claim.delivery_id,
                    "token": o.claim.token,
                },
            )


async def disable(webhook_id: int, reason: str, now: datetime) -> None:
    await sql.execute_named(
        named(
            "UPDATE webhooks SET enabled = :enabled, disabled_reason = :reason, disabled_at = :now, updated_at = :now"
            " WHERE id = :webhook_id AND enabled = :was_enabled"
        ),
        {"enabled": False, "reason": reason[:1000], "now": now, "webhook_id": webhook_id, "was_enabled": True},
    )


# ---- the delivery log ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    webhook_id: int
    event_id: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class AttemptRow:
    id: int
    delivery_id: int
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    attempted_at: datetime


_NO_CURSOR = 2**63 - 1  # past every BIGINT id
_DELIVERIES = (
    "SELECT d.id, d.webhook_id, d.event_id, e.type AS event_type, d.status, d.attempts, d.next_attempt_at,"
    " d.last_status_code, d.last_error, d.created_at, d.delivered_at"
    " FROM webhook_deliveries d JOIN reward_events e ON e.id = d.event_id"
)


def _delivery(row: dict[str, Any]) -> DeliveryRow:
    return DeliveryRow(
        id=int(row["id"]),
        webhook_id=int(row["webhook_id"]),
        event_id=int(row["event_id"]),
        event_type=row["event_type"],
        status=row["status"],
        attempts=int(row["attempts"]),
        next_attempt_at=_optional_moment(row["next_attempt_at"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=_moment(row["created_at"]),
        delivered_at=_optional_moment(row["delivered_at"]),
    )


def _attempt(row: dict[str, Any]) -> AttemptRow:
    return AttemptRow(
        id=int(row["id"]),
        delivery_id=int(row["delivery_id"]),
        attempt=int(row["attempt"]),
        status_code=row["status_code"],
        latency_ms=int(row["latency_ms"]),
        error=row["error"],
        attempted_at=_moment(row["attempted_at"]),
    )


async def deliveries_page(
    webhook_id: int, first: int, before_id: int | None
) -> tuple[list[DeliveryRow], dict[int, list[AttemptRow]], bool]:
    """Newest first, with each delivery's attempts (oldest first)."""
    rows = await sql.fetch_named(
        named(f"{_DELIVERIES} WHERE d.webhook_id = :webhook_id AND d.id < :before_id ORDER BY d.id DESC LIMIT :limit"),
        {"webhook_id": webhook_id, "before_id": before_id if before_id is not None else _NO_CURSOR, "limit": first + 1},
    )
    page = [_delivery(row) for row in rows[:first]]
    attempts: dict[int, list[AttemptRow]] = {row.id: [] for row in page}
    if attempts:
        marks, values = _marks(list(attempts), 1)
        for attempt in map(
            _attempt,
            await sql.fetch(
                "SELECT id, delivery_id, attempt, status_code, latency_ms, error, attempted_at FROM webhook_attempts"
                f" WHERE delivery_id IN ({marks}) ORDER BY id",
                *values,
            ),
        ):
            attempts[attempt.delivery_id].append(attempt)
    return page, attempts, len(rows) > first


async def redeliver(webhook_id: int, event_id: int, now: datetime) -> DeliveryRow:
    """The event to the endpoint again, from the first step of the schedule. The claim
    token is cleared: an attempt in flight is logged but leaves this schedule alone."""
    rows = await sql.fetch_named(
        named(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, status, attempts, next_attempt_at, created_at)"
            " VALUES (:webhook_id, :event_id, :pending, 0, :now, :now) ON CONFLICT (webhook_id, event_id) DO"
            " UPDATE SET status = excluded.status,"
            " attempts = 0, next_attempt_at = excluded.next_attempt_at, locked_until = NULL, claim_token = NULL,"
            " created_at = excluded.created_at RETURNING id"
        ),
        {"webhook_id": webhook_id, "event_id": event_id, "pending": PENDING, "now": now},
    )
    found = await sql.fetch_named(named(f"{_DELIVERIES} WHERE d.id = :id"), {"id": rows[0]["id"]})
    return _delivery(found[0])


async def event_exists(event_id: int) -> bool:
    return bool(
        await sql.fetch_named(
            named("SELECT 1 AS found FROM reward_events WHERE id = :event_id"), {"event_id": event_id}
        )
    )


def _marks(ids: Sequence[int], first: int) -> tuple[str, list[Any]]:
    return ", ".join(f"${first + i}" for i in range(len(ids))), list(ids)


def _moment(value: datetime | str) -> datetime:
    return sql.as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def _optional_moment(value: datetime | str | None) -> datetime | None:
    return None if value is None else _moment(value)


def _event_types(value: list[str] | str | None) -> list[str] | None:
    # A JSON column: text from both drivers here (no JSON codec is registered).
    return json.loads(value) if isinstance(value, str) else value


def _json_types(event_types: list[str] | None) -> str | None:
    # As the model's encoder wrote it; None is SQL NULL (every type), not JSON null.
    return None if event_types is None else json.dumps(event_types, separators=(",", ":"))
