"""The Redis event bus (LOYALTY_EVENT_BUS=redis://…): workers tell each other of new
events, webhook endpoint changes and rules versions by Redis pub/sub instead of
PostgreSQL's LISTEN/NOTIFY. Like NOTIFY it only wakes: the outbox stays the source of
truth, and every reader also polls it (the tail once a second), so a message lost while
Redis is away delays a reader by at most that poll, and loses nothing.

Publishing happens after the commit (persistence.sql.after_commit), once per burst: while
one PUBLISH is in flight, further commits of this worker ask for one more, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.settings import mask_password
from persistence.notifications import EVENTS_WRITTEN, REWARD_EVENTS_CHANNEL

log = logging.getLogger("loyalty.events")

RECONNECT_SECONDS = 1.0
# A subscriber connection that died without a word (a dropped network path) is noticed by
# its PING within this long; a reader that misses messages meanwhile still polls.
HEALTH_CHECK_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 2.0


class EventBusUnavailable(RuntimeError):
    """Redis could not be reached at start: said plainly, rather than serving without a bus."""


class RedisBus:
    def __init__(self, url: str, on_notify: Callable[[str | None], None]):
        self.url = url
        self.on_notify = on_notify
        self._client = _client(url, name=f"loyalty-bus-{os.getpid()}")
        self._listener: asyncio.Task | None = None
        self._publishing: asyncio.Task | None = None
        self._again: set[str] = set()
        self._lost = False

    async def start(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as error:
            await self._client.aclose()
            raise EventBusUnavailable(
                f"LOYALTY_EVENT_BUS: cannot reach Redis at {mask_password(self.url)} ({error});"
                " start Redis, or unset LOYALTY_EVENT_BUS to use PostgreSQL's LISTEN/NOTIFY"
            ) from None
        self._listener = asyncio.create_task(self._listen(), name="event-bus-listen")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._publishing is not None:
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self._publishing
        await self._client.aclose()

    def publish(self, payload: str) -> None:
        """Tells every worker (this one too); returns at once. Coalesced per payload."""
        if self._publishing is not None and not self._publishing.done():
            self._again.add(payload)
            return
        self._again = {payload}
        self._publishing = asyncio.create_task(self._publish(), name="event-bus-publish")

    def events_written(self) -> None:
        self.publish(EVENTS_WRITTEN)

    async def _publish(self) -> None:
        while self._again:
            payloads, self._again = self._again, set()
            for payload in payloads:
                try:
                    await self._client.publish(REWARD_EVENTS_CHANNEL, payload)
                except RedisError as error:
                    # The readers' polls carry the news; the subscriber logs the loss.
                    log.debug("could not publish on the event bus: %s", error)

    async def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(REWARD_EVENTS_CHANNEL)
                if self._lost:
                    log.warning("the Redis event bus is back at %s", mask_password(self.url))
                    self._lost = False
                self.on_notify(None)  # anything may have happened while away
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=HEALTH_CHECK_SECONDS)
                    if message is not None and message["type"] == "message":
                        data = message["data"]
                        self.on_notify(data.decode() if isinstance(data, bytes) else str(data))
            except (RedisError, OSError) as error:
                if not self._lost:
                    log.warning(
                        "lost the Redis event bus at %s (%s): workers read new events on their poll"
                        " (once a second) until it is back",
                        mask_password(self.url),
                        error,
                    )
                    self._lost = True
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()


def _client(url: str, *, name: str) -> redis.Redis:
    # No retries inside the client: a lost connection surfaces at once, is logged, and
    # the subscriber reconnects on its own schedule (polling meanwhile).
    return redis.Redis.from_url(
        url,
        client_name=name,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        health_check_interval=HEALTH_CHECK_SECONDS,
    )


async def check_reachable(url: str) -> None:
    """Raises EventBusUnavailable when Redis does not answer (`loyalty serve`, before workers start)."""
    bus = RedisBus(url, lambda _payload: None)
    await bus.start()
    await bus.close()


@contextlib.asynccontextmanager
async def connected(url: str, on_notify: Callable[[str | None], None]) -> AsyncIterator[RedisBus]:
    """The bus, subscribed; raises EventBusUnavailable when Redis does not answer now."""
    bus = RedisBus(url, on_notify)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close()
