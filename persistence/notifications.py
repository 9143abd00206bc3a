"""What workers tell each other: PostgreSQL LISTEN on a connection of its own (a pooled
one would lose it on release), and `announce`, which tells every worker at commit."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from persistence import sql
from persistence.statements import named

log = logging.getLogger("loyalty.events")

# The channel that migration 0009's trigger notifies at every commit that wrote events
# (an empty payload), and that webhook endpoint changes (WEBHOOKS_CHANGED) and new rules
# versions in force (RULES_CHANGED) are told on. The Redis bus uses the same name and payloads.
REWARD_EVENTS_CHANNEL = "loyalty_reward_events"
EVENTS_WRITTEN = ""
WEBHOOKS_CHANGED = "webhooks"
RULES_CHANGED = "rules"
RECONNECT_SECONDS = 1.0

# The event bus of this process when it is not PostgreSQL's (Redis: app/redis_bus.py):
# called with the payload once the announcing transaction has committed.
relays: list[Callable[[str], None]] = []


async def announce(payload: str) -> None:
    """Within the transaction of a change: every worker is told at commit (NOTIFY is
    transactional; the relays are called after the commit), none if it rolls back."""
    if sql.on_postgres():
        await sql.execute_named(
            named("SELECT pg_notify(:channel, :payload)"),
            {"channel": REWARD_EVENTS_CHANNEL, "payload": payload},
        )
    for relay in list(relays):
        sql.after_commit(functools.partial(relay, payload))


@contextlib.asynccontextmanager
async def listening(database_url: str, channel: str, on_notify: Callable[[str | None], None]) -> AsyncIterator[None]:
    """Calls on_notify with the payload of every notification on channel, and with None
    once after every (re)connection: anything may have happened while disconnected."""
    task = asyncio.create_task(_listen(database_url, channel, on_notify), name=f"listen-{channel}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _listen(database_url: str, channel: str, on_notify: Callable[[str | None], None]) -> None:
    credentials = expand_db_url(database_url)["credentials"]
    while True:
        lost = asyncio.Event()
        try:
            conn = await asyncpg.connect(
                host=credentials.get("host"),
                port=credentials.get("port"),
                user=credentials.get("user"),
                password=credentials.get("password") or None,
                database=credentials.get("database"),
            )
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("cannot LISTEN for reward events (%s); retrying", error)
            await asyncio.sleep(RECONNECT_SECONDS)
            continue

        def notified(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
            on_notify(payload)

        try:
            conn.add_termination_listener(lambda _, lost=lost: lost.set())
            await conn.add_listener(channel, notified)
            on_notify(None)
            await lost.wait()
            log.warning("the LISTEN connection was lost; reconnecting")
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
