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

# The channel that migration 0009's trigger notifies at every commit that wrote events
# (an empty payload), and that webhook endpoint changes are told on (WEBHOOKS_CHANGED).
REWARD_EVENTS_CHANNEL = "loyalty_reward_events"
WEBHOOKS_CHANGED = "webhooks"
RECONNECT_SECONDS = 1.0


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
