"""Wires the service once: database, rules registry, credentials. Used by the ASGI
lifespan and the CLI alike, so both run the same use cases against the same setup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from app.auth_throttle import FailedAuthThrottle
from app.credentials import ApiKeyVerifier, CustomerTokens, token_secret
from app.delivery import DeliveryWorker, notified_by
from app.event_stream import OutboxTail
from app.program_memory import keep_in_force
from app.rules_sync import follow_activations, put_in_force, store_rules_version
from app.settings import Settings
from persistence import database, notifications, outbox
from persistence.connections import CLOSE_SECONDS, Database
from persistence.notifications import REWARD_EVENTS_CHANNEL, listening
from persistence.unit_of_work import UnitOfWork
from rules import Program, RulesRegistry

log = logging.getLogger("loyalty")


@dataclass
class Services:
    settings: Settings
    rules: RulesRegistry
    api_keys: ApiKeyVerifier
    tokens: CustomerTokens
    db: Database
    """Bound around every request (`db.bind()`): statements go to it."""
    uow: UnitOfWork
    """What use cases reach the database through."""
    events: OutboxTail
    """This worker's reader of the outbox (running only when the service serves events)."""
    auth_throttle: FailedAuthThrottle
    rules_told: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by the event bus when a worker puts a rules version in force (app.rules_sync)."""
    scheduler: asyncio.Task[None] | None = None
    """This worker's scheduler (app.scheduler), when it runs one."""

    def stop_jobs(self) -> None:
        """Shutdown has begun: the scheduled job in flight stops now rather than after the
        drain (its batch in flight rolls back, its lease is given back; see app.scheduler)."""
        # Once: a second cancel would cut short the stopped job's giving back its lease.
        if self.scheduler is not None and not self.scheduler.cancelling():
            self.scheduler.cancel()

    @property
    def program(self) -> Program:
        return self.rules.program


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings, *, watch_rules: bool = False, serve_events: bool = False
) -> AsyncIterator[Services]:
    """`watch_rules`: a serving worker, which follows the versions the others put in force and
    (unless settings.rules_watch is off) watches the rules folder. `serve_events`: run this
    worker's outbox tail (subscriptions, the rewardEvents query) and webhook delivery
    worker, as `loyalty serve` does."""
    if settings.is_sqlite:
        # The embedded default migrates itself; PostgreSQL is migrated by `loyalty migrate`.
        await database.migrate(settings.database_url)
    else:
        # Said plainly now, rather than as a missing table on the first request.
        await database.check_migrated(settings.database_url)
    db = await database.open_database(settings.database_url, settings.workers)
    uow = UnitOfWork(db)
    try:
        registry = RulesRegistry(settings.rules_dir, quiet_ms=settings.rules_quiet_ms)
        if registry.program is None:
            raise RuntimeError(f"the rules folder {settings.rules_dir} does not load")
        if watch_rules:
            # The folder a serving worker starts with is the newest deploy: in force for all.
            await put_in_force(uow, registry.program)
        else:
            # A tool (`loyalty jobs run`...) stores its version but changes nothing in force.
            await store_rules_version(uow, registry.program)
        secret = settings.token_secret.__str__() if settings.token_secret else await token_secret(uow)
        services = Services(
            settings=settings,
            rules=registry,
            api_keys=ApiKeyVerifier(str(settings.bootstrap_api_key) if settings.bootstrap_api_key else None),
            tokens=CustomerTokens(secret, settings.token_ttl_seconds),
            db=db,
            uow=uow,
            events=OutboxTail(uow),
            auth_throttle=FailedAuthThrottle(settings.auth_failure_limit, settings.auth_failure_window_seconds),
        )
        # From here on a new version is stored before it goes live (see RulesRegistry).
        registry.on_activate = lambda program: put_in_force(uow, program)
        if watch_rules:  # a serving worker: the version in force stays out of full collections
            keep_in_force(registry.program)
            registry.on_live = keep_in_force
        tasks = []
        if watch_rules:
            following = follow_activations(uow, registry, settings.rules_sync_ms / 1000, services.rules_told)
            tasks.append(asyncio.create_task(following, name="rules-sync"))
            if settings.rules_watch:
                tasks.append(asyncio.create_task(registry.watch(), name="rules-watcher"))
            if settings.scheduler:
                services.scheduler = asyncio.create_task(_schedule(registry, uow, settings), name="scheduler")
                tasks.append(services.scheduler)
        try:
            if serve_events:
                async with serving_events(services):
                    yield services
            else:
                yield services
        finally:
            await _stopped(tasks)
    finally:
        await database.close_database(db)


@contextlib.asynccontextmanager
async def reading_database(settings: Settings) -> AsyncIterator[UnitOfWork]:
    """The database as it is, for tools that only read (`loyalty rules simulate`, `rules
    check --against-db`): nothing migrated, no rules version stored. Raises
    DatabaseNotReady (unreachable, or not migrated) with what to do."""
    if settings.is_sqlite:
        # Asking an SQLite file that is not there whether it is migrated would make it.
        path = settings.database_url.removeprefix("sqlite://")
        if path != ":memory:" and not await asyncio.to_thread(os.path.exists, path):
            raise database.DatabaseNotReady(f"The database {path} does not exist: check LOYALTY_DATABASE_URL.")
    await database.check_migrated(settings.database_url)
    db = await database.open_database(settings.database_url)
    try:
        yield UnitOfWork(db)
    finally:
        await database.close_database(db)


@contextlib.asynccontextmanager
async def serving_events(services: Services) -> AsyncIterator[None]:
    """The tail and the webhook delivery worker, woken by the event bus."""
    tail = services.events
    delivery = DeliveryWorker(services.settings, services.uow, tail)
    tail.on_advance.append(delivery.wake)
    with services.db:
        tasks = [
            asyncio.create_task(tail.run(), name="outbox-tail"),
            asyncio.create_task(delivery.run(), name="webhook-delivery"),
        ]
    try:
        async with event_bus(services.settings, tail, notified_by(tail, delivery, services.rules_told)):
            yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def event_bus(
    settings: Settings, tail: OutboxTail, notified: Callable[[str | None], None]
) -> AsyncIterator[None]:
    """How workers hear of each other's commits: Redis pub/sub when LOYALTY_EVENT_BUS names
    one, else LISTEN on PostgreSQL; SQLite serves one worker, whose tail is woken in process
    after its own commits. (Waking the tail in process on PostgreSQL too, ahead of the
    NOTIFY, was measured: no difference in the subscription latency beyond the shared
    machine's noise, and a second read per event at low rates; see bench/README.md.)"""
    if settings.event_bus:
        # Imported only when configured: redis-py imports OpenTelemetry, which tracing
        # off must not load (tests/unit/test_tracing_off.py).
        from app import redis_bus

        async with redis_bus.connected(settings.event_bus, notified) as bus:
            # This worker's own subscribers need not wait for the PUBLISH and its echo
            # (which come after the commit, unlike NOTIFY): measured, see bench/README.md.
            local = [tail.wake, bus.events_written]
            outbox.written_listeners.extend(local)
            notifications.relays.append(bus.publish)
            try:
                yield
            finally:
                notifications.relays.remove(bus.publish)
                for listener in local:
                    outbox.written_listeners.remove(listener)
    elif settings.is_sqlite:
        outbox.written_listeners.append(tail.wake)
        try:
            yield
        finally:
            outbox.written_listeners.remove(tail.wake)
    else:
        async with listening(settings.database_url, REWARD_EVENTS_CHANNEL, notified):
            yield


STOP_SECONDS = 10.0
"""The most the background tasks get to stop at shutdown (a cancelled job gives its lease
back in app.scheduler.STOP_WRITES_SECONDS); one that has not stopped by then is left to
the pool's closing, which is bounded too (persistence.connections.CLOSE_SECONDS)."""
SHUTDOWN_SECONDS = STOP_SECONDS + CLOSE_SECONDS
"""The most `running_services` takes to end once asked to."""


async def _stopped(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if not task.cancelling():  # the scheduler may be stopping already: let it give its lease back
            task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=STOP_SECONDS)
    for task in pending:
        log.error(
            "%s did not stop within %s s of shutdown; closing the database under it", task.get_name(), STOP_SECONDS
        )
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("%s had failed", task.get_name(), exc_info=task.exception())


async def _schedule(registry: RulesRegistry, uow: UnitOfWork, settings: Settings) -> None:
    from datetime import timedelta

    from app.scheduler import Scheduler

    # Jobs not handed the unit of work yet (referral completion) run on the task's database.
    _use_in_this_task(uow.database)
    every = timedelta(seconds=settings.jobs_every_seconds)
    await Scheduler(uow, lambda: registry.program, every=every).run_forever()


def _use_in_this_task(db: Database) -> None:
    """Not `with db:`: a task runs in its own copy of the context variables, so binding
    there needs no reset, and cancelling several such tasks at shutdown cannot unwind
    one shared stack of tokens in the wrong order."""
    db.bind()
