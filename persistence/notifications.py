"""PostgreSQL LISTEN on a connection of its own (a pooled one would lose it on release)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

log = logging.getLogger("loyalty.events")

# The channel that migration 0004's trigger notifies at every commit that wrote events.
REWARD_EVENTS_CHANNEL = "loyalty_reward_events"
RECONNECT_SECONDS = 1.0


@contextlib.asynccontextmanager
async def listening(database_url: str, channel: str, on_notify: Callable[[], None]) -> AsyncIterator[None]:
    """Calls on_notify for every notification on channel, and once after every
    (re)connection, since notifications sent while disconnected are lost."""
    task = asyncio.create_task(_listen(database_url, channel, on_notify), name=f"listen-{channel}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _listen(database_url: str, channel: str, on_notify: Callable[[], None]) -> None:
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

        def notified(*_: Any) -> None:
            on_notify()

        try:
            conn.add_termination_listener(lambda _, lost=lost: lost.set())
            await conn.add_listener(channel, notified)
            on_notify()
            await lost.wait()
            log.warning("the LISTEN connection was lost; reconnecting")
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
