"""The webhook delivery worker: fans new outbox events out to the endpoints that take
them, then sends due deliveries, signed per the Standard Webhooks specification.

It runs inside `loyalty serve` (every worker) or alone (`loyalty webhooks deliver`);
several at once never send one delivery at the same time on purpose: each claims rows
for a while (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and a claim expires only if its
worker died. Delivery is at least once: a worker killed after sending but before
recording sends again later, with the same `webhook-id`, for receivers to deduplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from standardwebhooks import Webhook as Signer

from app.clock import utcnow
from app.settings import Settings
from app.webhook_sender import Failed, WebhookSender
from app.webhooks import check_target
from domain.errors import DomainError
from domain.webhooks import retry_delay, validate_url
from persistence.notifications import RULES_CHANGED, WEBHOOKS_CHANGED
from persistence.outbox import OutboxEvent
from persistence.unit_of_work import UnitOfWork
from persistence.webhooks import Claim, Outcome
from persistence.webhooks import changed_listeners as webhook_changes

if TYPE_CHECKING:
    from app.event_stream import OutboxTail

log = logging.getLogger("loyalty.webhooks")

CLAIM_BATCH = 200
CONCURRENCY = 64
FAN_OUT_BATCH = 1000
POLL_SECONDS = 1.0
# Whether any endpoint is enabled is remembered: with none (a program without partners,
# or every worker until one registers), a round costs no statement, so the wake-up that
# follows every committed event is free. Registering or enabling an endpoint, or
# redelivering an event, tells every delivery worker at once (announce_change); a worker
# that could not be told (another process on SQLite) reads it again after this long.
ENDPOINTS_RECHECK_SECONDS = 10.0


def notified_by(
    tail: OutboxTail, worker: DeliveryWorker, rules: asyncio.Event | None = None
) -> Callable[[str | None], None]:
    """What a notification on the reward events channel wakes: the tail for committed events,
    the worker for endpoint changes, the rules follower for a new version in force, and all
    of them after a reconnection (anything may have been missed)."""

    def notified(payload: str | None) -> None:
        if payload is None or payload not in (WEBHOOKS_CHANGED, RULES_CHANGED):
            tail.wake()
        if payload is None or payload == WEBHOOKS_CHANGED:
            worker.endpoints_changed()
        if rules is not None and payload in (None, RULES_CHANGED):
            rules.set()

    return notified


def envelope(event: OutboxEvent) -> dict:
    """The Standard Webhooks payload shape: {type, timestamp, data}."""
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "id": str(event.id),
            "customerExternalId": event.customer_external_id,
            "sequence": event.customer_sequence,
            "rulesVersion": event.rules_version,
            **event.payload,
        },
    }


def signature(secrets: list[str], message_id: str, at: datetime, body: str) -> str:
    """Space-separated `v1,<base64>` signatures, one per secret in force (two during a
    rotation), computed by the standardwebhooks package itself."""
    return " ".join(_signer(secret).sign(message_id, at, body) for secret in secrets)


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Signer:
    # Building one decodes the secret: once per endpoint, not once per delivery.
    return Signer(secret)


def secrets_in_force(claim: Claim, now: datetime) -> list[str]:
    webhook = claim.webhook
    found = [webhook.secret]
    if webhook.previous_secret and webhook.previous_secret_until and webhook.previous_secret_until > now:
        found.append(webhook.previous_secret)
    return found


class DeliveryWorker:
    def __init__(
        self,
        settings: Settings,
        uow: UnitOfWork,
        tail: OutboxTail | None = None,
        sender: WebhookSender | None = None,
    ):
        self.settings = settings
        self.uow = uow
        self.tail = tail
        self._sender = sender
        self._wake = asyncio.Event()
        self._fanned_upto = 0
        self._endpoints: bool | None = None
        """Whether an endpoint is enabled, as last read; None: to be read."""
        self._endpoints_read_at = 0.0
        self._changes_told = 0
        if tail is not None:
            tail.wanted_by.append(self.wants_events)

    def wake(self) -> None:
        self._wake.set()

    def endpoints_changed(self) -> None:
        self._endpoints = None
        self._changes_told += 1
        self._wake.set()

    def wants_events(self) -> bool:
        """Whether the tail should read new events as they are notified, for the fan-out."""
        return self._endpoints is not False

    async def any_endpoint(self) -> bool:
        known = self._endpoints
        if known is not None and time.monotonic() - self._endpoints_read_at < ENDPOINTS_RECHECK_SECONDS:
            return known
        told = self._changes_told
        async with self.uow.reading() as session:
            found = await session.webhooks.any_enabled()
        # A change told while reading may not be in the answer: then it is read again.
        if told == self._changes_told:
            self._endpoints, self._endpoints_read_at = found, time.monotonic()
        return found

    @property
    def claim_time(self) -> timedelta:
        """A claim outlives the slowest attempt of its batch and the recording after it;
        then, if this worker died, another sends the delivery again."""
        return timedelta(seconds=self.settings.webhooks_timeout_seconds * 3 + 1)

    async def run(self) -> None:
        webhook_changes.append(self.endpoints_changed)
        try:
            await self._run()
        finally:
            webhook_changes.remove(self.endpoints_changed)

    async def _run(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            if self._sender is None:
                self._sender = await stack.enter_async_context(
                    WebhookSender(
                        timeout_seconds=self.settings.webhooks_timeout_seconds,
                        concurrency=CONCURRENCY,
                        allow_private=self.settings.webhooks_allow_private_targets,
                    )
                )
            while True:
                try:
                    busy = await self.step()
                except Exception:  # keep delivering after a database hiccup
                    log.exception("webhook delivery step failed")
                    busy = False
                if busy:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await self._wake.wait()
                self._wake.clear()

    async def step(self) -> bool:
        """One round: fan out, then send one batch. True when more work may be waiting."""
        if not await self.any_endpoint():
            return False  # nothing to fan out to, and nothing can be claimed (claims need one)
        fanned = await self.fan_out()
        sent = await self.deliver_due()
        return fanned == FAN_OUT_BATCH or sent == CLAIM_BATCH

    async def fan_out(self) -> int:
        if self.tail is None or not self.tail.ready.is_set() or self.tail.position <= self._fanned_upto:
            return 0
        upto = self.tail.position
        async with self.uow.transaction() as session:
            count = await session.webhooks.fan_out(upto, utcnow(), FAN_OUT_BATCH)
        if count is not None and count < FAN_OUT_BATCH:
            self._fanned_upto = upto
        return count or 0

    async def deliver_due(self) -> int:
        now = utcnow()
        async with self.uow.transaction() as session:
            claims = await session.webhooks.claim_due(now, now + self.claim_time, CLAIM_BATCH)
        if not claims:
            return 0
        limit = asyncio.Semaphore(CONCURRENCY)
        checked: dict[str, Awaitable[str | None]] = {}
        bodies: dict[int, str] = {}

        async def one(claim: Claim) -> Outcome:
            async with limit:
                return await self.attempt(claim, checked, bodies)

        outcomes = await asyncio.gather(*(one(claim) for claim in claims))
        done = utcnow()
        disables = {o.claim.webhook.id: r for o in outcomes if (r := disable_reason(o))}
        async with self.uow.transaction() as session:
            await session.webhooks.record(outcomes, disables, done)
        return len(claims)

    async def attempt(self, claim: Claim, checked: dict[str, Awaitable[str | None]], bodies: dict[int, str]) -> Outcome:
        """One POST. `checked` and `bodies` are shared by a batch: a URL is checked once,
        and an event's body (the same for every endpoint) is written once."""
        assert self._sender is not None
        refusal = await self._refusal(claim.webhook.url, checked)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = refusal
        if refusal is None:
            body = bodies.get(claim.event.id)
            if body is None:
                body = bodies[claim.event.id] = json.dumps(envelope(claim.event), separators=(",", ":"))
            at = utcnow()
            message_id = str(claim.event.id)
            headers = {
                "content-type": "application/json",
                "user-agent": "loyalty-webhooks",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": signature(secrets_in_force(claim, at), message_id, at, body),
            }
            try:
                status = await self._sender.post(claim.webhook.url, body.encode(), headers)
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except Failed as failure:
                error = str(failure)
        latency = round((time.perf_counter() - started) * 1000)
        return outcome(claim, status, latency, error, utcnow())

    async def _refusal(self, url: str, checked: dict[str, Awaitable[str | None]]) -> str | None:
        """Why this URL may not be called now (checked once per host and batch)."""
        if self.settings.webhooks_allow_private_targets:
            return None
        if url not in checked:
            checked[url] = asyncio.ensure_future(target_refusal(url))
        return await checked[url]


async def target_refusal(url: str) -> str | None:
    try:
        await check_target(validate_url(url, allow_private=False, field=["url"]), allow_private=False, field=["url"])
    except DomainError as refused:
        return refused.message
    return None


def outcome(claim: Claim, status: int | None, latency_ms: int, error: str | None, now: datetime) -> Outcome:
    delivered = error is None
    retry_at = None
    if not delivered and status != 410:
        delay = retry_delay(claim.attempt)
        retry_at = now + delay if delay else None
    return Outcome(claim, status, latency_ms, error, delivered, retry_at)


def disable_reason(result: Outcome) -> str | None:
    """410 Gone disables at once; otherwise an endpoint is disabled when a delivery has
    failed every attempt of the schedule and nothing reached it meanwhile."""
    if result.status_code == 410:
        return "The endpoint answered 410 Gone."
    if result.delivered or result.next_attempt_at is not None:
        return None
    last_success = result.claim.webhook.last_success_at
    if last_success is not None and last_success > result.claim.created_at:
        return None
    return f"Every attempt to deliver event {result.claim.event.id} failed over 3 days; the last: {result.error}."
