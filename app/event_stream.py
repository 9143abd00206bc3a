"""Reward events, live: one tail per worker reads the outbox in id order and hands new
events to the subscribers connected to that worker.

A notification (PostgreSQL NOTIFY from every worker's commits, or the in-process bus of
the SQLite default) only says "there may be new events"; the tail then reads the outbox
after its position, so the database alone decides the order, on every worker.

Outbox ids are taken when rows are inserted but become visible when their transactions
commit, which under concurrency is not in id order: id 11 may be visible while 10 is
still being written. The tail never moves past a missing id until it appears or has been
missing for `GAP_GRACE_SECONDS` (then its transaction rolled back: ids are not reused on
PostgreSQL). Everything partners read (subscriptions, the `rewardEvents` query, the
webhook fan-out) stops at the tail's position, so what they have read never gains an
older event later, and `after` resumes without a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.clock import utcnow
from persistence.outbox import OutboxEvent
from persistence.unit_of_work import Session, UnitOfWork

GAP_GRACE_SECONDS = 5.0
# The tail also reads on this period without a notification: events written by another
# process on SQLite (`loyalty jobs run`), or while the LISTEN connection was down.
POLL_SECONDS = 1.0
# Reads follow notifications at most this often: a burst of commits (one NOTIFY each) is
# read in one statement, while an event after a quiet spell is read at once.
READ_INTERVAL_SECONDS = 0.005
READ_BATCH = 500
# A new tail starts this many ids back, so that an event still being written while it
# started is not missed.
START_WINDOW = 1000
# Events a subscriber may be behind before it is disconnected (it resumes with `after`).
SUBSCRIBER_BUFFER = 1000


class SlowSubscriber(Exception):
    def __init__(self, last_id: int):
        super().__init__(
            f"This subscription fell more than {SUBSCRIBER_BUFFER} events behind and was ended;"
            f' subscribe again with after: "{last_id}" to resume.'
        )
        self.last_id = last_id


class SettledReader:
    """Reads the outbox after a cursor, never past an id that may still commit."""

    def __init__(self, after: int, grace: float = GAP_GRACE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.cursor = after
        self.grace = grace
        self.clock = clock
        self._missing_since: dict[int, float] = {}

    async def read(self, session: Session, limit: int, old_before: datetime | None = None) -> list[OutboxEvent]:
        return self.settle(await session.outbox.events_after(self.cursor, None, None, limit), old_before)

    def settle(self, events: list[OutboxEvent], old_before: datetime | None = None) -> list[OutboxEvent]:
        """The prefix of events (ids after the cursor, ascending) that is safe to hand out.
        A missing id followed by an event that occurred before `old_before` is long gone
        (for a tail's first read, which must not wait on the holes of history)."""
        now = self.clock()
        settled: list[OutboxEvent] = []
        expected = self.cursor + 1
        for event in events:
            if event.id != expected and not (old_before is not None and event.occurred_at < old_before):
                since = self._missing_since.setdefault(expected, now)
                if now - since < self.grace:
                    break
            settled.append(event)
            expected = event.id + 1
        if settled:
            self.cursor = settled[-1].id
            self._missing_since = {i: t for i, t in self._missing_since.items() if i > self.cursor}
        return settled

    def recheck_in(self) -> float | None:
        """Seconds until a missing id may be given up on, if one is awaited."""
        if not self._missing_since:
            return None
        return max(0.0, min(self._missing_since.values()) + self.grace - self.clock())


@dataclass(eq=False)
class Subscriber:
    types: frozenset[str] | None
    floor: int
    """Events at or below this id were (or will be) replayed from the outbox instead."""
    _buffer: deque[OutboxEvent] = field(default_factory=deque)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, events: Iterable[OutboxEvent]) -> None:
        for event in events:
            if self.overflowed:
                break
            if self.types is not None and event.type not in self.types:
                continue
            if len(self._buffer) >= SUBSCRIBER_BUFFER:
                # Bounded: a client that does not read is dropped, never buffered without end.
                self.overflowed = True
            else:
                self._buffer.append(event)
        self._ready.set()

    async def next(self) -> OutboxEvent:
        while True:
            while self._buffer:
                event = self._buffer.popleft()
                if event.id > self.floor:
                    self.floor = event.id
                    return event
            if self.overflowed:
                raise SlowSubscriber(self.floor)
            self._ready.clear()
            await self._ready.wait()


class OutboxTail:
    """Reads new events when notified while someone takes them live (a subscriber, or a
    delivery worker with an endpoint to fan out to: `wanted_by`), and otherwise only on its
    poll; a reader that starts (a subscription, a page) first has it read what was notified
    (`caught_up`). So a worker that serves no partner reads once a second, not once per
    committed event, and what anyone reads is bounded as before."""

    def __init__(
        self,
        uow: UnitOfWork,
        grace: float = GAP_GRACE_SECONDS,
        poll: float = POLL_SECONDS,
        interval: float = READ_INTERVAL_SECONDS,
    ):
        self.uow = uow
        self.grace = grace
        self.poll = poll
        self.interval = interval
        self.position = 0
        self.ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._notified = False
        """A notification came since the last read began."""
        self._read_at = -math.inf
        self._reading = asyncio.Lock()
        self._reader: SettledReader | None = None
        self._subscribers: set[Subscriber] = set()
        self.on_advance: list[Callable[[], None]] = []
        self.wanted_by: list[Callable[[], bool]] = []

    def wake(self) -> None:
        self._notified = True
        self._wake.set()

    @property
    def watched(self) -> bool:
        return bool(self._subscribers) or any(wants() for wants in self.wanted_by)

    def subscribe(self, types: Iterable[str] | None) -> Subscriber:
        subscriber = Subscriber(frozenset(types) if types else None, self.position)
        self._subscribers.add(subscriber)
        if self._notified:
            self._wake.set()  # read now what was left for the poll
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def caught_up(self) -> None:
        """Once started, and with every event notified so far read (up to a gap that may
        still commit), so that a reader starting now misses nothing already committed."""
        await self.ready.wait()
        if self._notified and self._reader is not None:
            async with self._reading:
                if self._notified:
                    await self._catch_up(self._reader)

    async def run(self) -> None:
        async with self.uow.reading() as session:
            last = await session.outbox.last_event_id()
        reader = SettledReader(max(0, last - START_WINDOW), self.grace)
        async with self._reading:
            await self._catch_up(reader, old_before=utcnow() - timedelta(seconds=self.grace))
        self._reader = reader
        self.ready.set()
        while True:
            # The poll counts from the last read, so notifications left for it never delay it.
            due = self._read_at + self.poll
            recheck = reader.recheck_in()
            if recheck is not None:
                due = min(due, time.monotonic() + recheck)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, due - time.monotonic())):
                    await self._wake.wait()
                    self._wake.clear()
                    if not self.watched:
                        continue  # no one takes events live: the poll reads them
                    await asyncio.sleep(self._read_at + self.interval - time.monotonic())
            self._wake.clear()
            async with self._reading:
                await self._catch_up(reader)

    async def _catch_up(self, reader: SettledReader, old_before: datetime | None = None) -> None:
        self._notified = False
        self._read_at = time.monotonic()
        advanced = False
        async with self.uow.reading() as session:
            while True:
                events = await reader.read(session, READ_BATCH, old_before)
                if events:
                    self.position = reader.cursor
                    advanced = True
                    for subscriber in list(self._subscribers):
                        subscriber.offer(events)
                if len(events) < READ_BATCH:
                    break
        if advanced:
            for listener in self.on_advance:
                listener()


REPLAY_PAGE = 500


async def reward_events(
    uow: UnitOfWork, tail: OutboxTail, after: int | None, types: list[str] | None
) -> AsyncGenerator[OutboxEvent, None]:
    """Replays what came after `after` from the outbox, then continues live.

    The subscriber is registered before the replay, at the tail's position: the replay
    covers (after, position], live events come after position, so nothing falls in the
    seam and nothing is sent twice. Raises SlowSubscriber when the client reads too slowly.
    """
    await tail.caught_up()
    subscriber = tail.subscribe(types)
    try:
        start = subscriber.floor
        if after is not None:
            cursor = after
            while cursor < start:
                # A session per page, none held while the client reads.
                async with uow.reading() as session:
                    page = await session.outbox.events_after(cursor, start, types, REPLAY_PAGE)
                for event in page:
                    yield event
                if len(page) < REPLAY_PAGE:
                    break
                cursor = page[-1].id
            subscriber.floor = max(start, after)
        while True:
            yield await subscriber.next()
    finally:
        tail.unsubscribe(subscriber)


async def events_page(
    uow: UnitOfWork, tail: OutboxTail, after: int | None, types: list[str] | None, first: int
) -> tuple[list[OutboxEvent], bool]:
    """For partners that poll: the same events, the same bound as subscriptions."""
    await tail.caught_up()
    async with uow.reading() as session:
        rows = await session.outbox.events_after(after or 0, tail.position, types, first + 1)
    return rows[:first], len(rows) > first
