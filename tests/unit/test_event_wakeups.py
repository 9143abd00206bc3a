"""What a committed event costs the readers of the outbox, without a database: the tail
reads at a notification only for someone who takes events live, and a delivery worker
with no endpoint to deliver to sends no statement at all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from app.delivery import DeliveryWorker, notified_by
from app.event_stream import OutboxTail, events_page, reward_events
from app.settings import Settings
from persistence.notifications import RULES_CHANGED, WEBHOOKS_CHANGED
from persistence.outbox import OutboxEvent

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(event_id: int) -> OutboxEvent:
    return OutboxEvent(event_id, "points.earned", "c", event_id, NOW, "v1", {})


class Outbox:
    """The outbox's read path, counting its statements."""

    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []
        self.reads = 0

    async def events_after(self, after: int, upto: int | None, types: Any, limit: int) -> list[OutboxEvent]:
        self.reads += 1
        return [e for e in self.events if e.id > after and (upto is None or e.id <= upto)][:limit]

    async def last_event_id(self) -> int:
        return max((e.id for e in self.events), default=0)

    def commit(self, *ids: int) -> None:
        self.events += [event(i) for i in ids]


class Sessions:
    """A unit of work whose sessions' repositories are these fakes."""

    def __init__(self, **repositories: Any) -> None:
        self.session = SimpleNamespace(**repositories)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Any]:
        yield self.session

    transaction = reading


UOW = Sessions()


@pytest.fixture
def outbox() -> Outbox:
    fake = Outbox()
    UOW.session.outbox = fake
    return fake


async def running(tail: OutboxTail) -> AsyncIterator[OutboxTail]:
    task = asyncio.create_task(tail.run())
    await tail.ready.wait()
    try:
        yield tail
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.fixture
async def tail(outbox: Outbox) -> AsyncIterator[OutboxTail]:
    async for started in running(OutboxTail(cast(Any, UOW), poll=60, interval=0.05)):
        yield started


async def test_a_tail_no_one_watches_leaves_notifications_to_a_reader_that_starts(outbox: Outbox, tail: OutboxTail):
    reads = outbox.reads
    for i in (1, 2, 3):
        outbox.commit(i)
        tail.wake()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # past the read interval: a watched tail would have read
    assert outbox.reads == reads and tail.position == 0

    rows, more = await events_page(cast(Any, UOW), tail, None, None, 10)

    assert [e.id for e in rows] == [1, 2, 3] and not more
    assert tail.position == 3


async def test_a_tail_no_one_watches_still_reads_on_its_poll(outbox: Outbox):
    async for tail in running(OutboxTail(cast(Any, UOW), poll=0.05)):
        outbox.commit(1)  # its notification lost (another process on SQLite, LISTEN down)
        await asyncio.sleep(0.2)
        assert tail.position == 1


async def test_a_subscribed_tail_reads_at_once_and_a_burst_in_one_statement(outbox: Outbox, tail: OutboxTail):
    stream = reward_events(cast(Any, UOW), tail, None, None)
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)  # subscribed
    reads = outbox.reads

    outbox.commit(1)
    tail.wake()
    assert (await asyncio.wait_for(first, 1)).id == 1
    for i in (2, 3, 4):
        outbox.commit(i)
        tail.wake()
        await asyncio.sleep(0)
    received = [(await asyncio.wait_for(anext(stream), 1)).id for _ in range(3)]

    assert received == [2, 3, 4]
    assert outbox.reads == reads + 2
    await stream.aclose()


async def test_a_subscriber_starts_after_what_was_notified_before_it(outbox: Outbox, tail: OutboxTail):
    outbox.commit(1)
    tail.wake()
    stream = reward_events(cast(Any, UOW), tail, None, None)
    later = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    outbox.commit(2)
    tail.wake()
    assert (await asyncio.wait_for(later, 1)).id == 2
    await stream.aclose()


def worker(tail: OutboxTail | None = None) -> DeliveryWorker:
    return DeliveryWorker(cast(Settings, SimpleNamespace(webhooks_timeout_seconds=10)), cast(Any, UOW), tail)


class Endpoints:
    """persistence.webhooks as the delivery worker's rounds use it."""

    def __init__(self) -> None:
        self.enabled = False
        self.asked = 0
        self.claims = 0
        self.changed_while_asked = False
        self.listeners: list[Any] = []
        UOW.session.webhooks = self

    async def any_enabled(self) -> bool:
        self.asked += 1
        answer = self.enabled
        if self.changed_while_asked:
            self.changed_while_asked = False
            self.enabled = True
            for listener in self.listeners:
                listener()
        return answer

    async def claim_due(self, *_: Any) -> list[Any]:
        self.claims += 1
        return []


async def test_a_delivery_worker_without_an_endpoint_sends_no_statement_until_told():
    endpoints = Endpoints()
    deliverer = worker()
    for _ in range(5):
        assert await deliverer.step() is False
    assert (endpoints.asked, endpoints.claims) == (1, 0)

    endpoints.enabled = True
    deliverer.endpoints_changed()
    await deliverer.step()

    assert (endpoints.asked, endpoints.claims) == (2, 1)


async def test_an_endpoint_registered_while_the_worker_reads_is_not_missed():
    endpoints = Endpoints()
    deliverer = worker()
    endpoints.listeners.append(deliverer.endpoints_changed)
    endpoints.changed_while_asked = True  # the read answers "none", then the change is told

    await deliverer.step()
    await deliverer.step()

    assert endpoints.asked == 2 and endpoints.claims == 1


async def test_the_tail_reads_live_for_a_delivery_worker_only_while_it_may_have_endpoints():
    Endpoints()
    tail = OutboxTail(cast(Any, UOW))
    deliverer = worker(tail)
    assert tail.watched  # not yet known
    await deliverer.step()
    assert not tail.watched

    notified_by(tail, deliverer)(WEBHOOKS_CHANGED)
    assert tail.watched


def test_a_notification_wakes_the_tail_or_the_delivery_worker_and_a_reconnection_both():
    tail = OutboxTail(cast(Any, UOW))
    deliverer = worker(tail)
    notified = notified_by(tail, deliverer)
    deliverer._endpoints = False

    notified("")
    assert tail._notified and deliverer._endpoints is False
    tail._notified = False
    notified(WEBHOOKS_CHANGED)
    assert not tail._notified and deliverer._endpoints is None
    deliverer._endpoints = False
    notified(None)
    assert tail._notified and deliverer._endpoints is None


def test_a_rules_version_put_in_force_wakes_only_the_rules_follower():
    tail = OutboxTail(cast(Any, UOW))
    deliverer = worker(tail)
    rules = asyncio.Event()
    notified = notified_by(tail, deliverer, rules)
    deliverer._endpoints = False

    notified(RULES_CHANGED)
    assert rules.is_set() and not tail._notified and deliverer._endpoints is False
    rules.clear()
    notified("")
    assert not rules.is_set() and tail._notified
    notified(None)  # reconnected: anything may have been missed
    assert rules.is_set()
