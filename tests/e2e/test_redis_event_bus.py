"""LOYALTY_EVENT_BUS=redis://…: workers wake each other through Redis pub/sub instead of
LISTEN/NOTIFY; the outbox stays the source of truth, so a Redis lost later only slows
readers down to their poll, while one that is down at start stops the service at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import redis.asyncio as redis

from tests.conftest import BOOTSTRAP_KEY, Server, free_port, make_settings, running_server, unique
from tests.e2e.test_events_across_workers import serving
from tests.graphql_client import ADJUST, enroll, gql
from tests.ws_client import subscribed

REDIS_URL = os.environ.get("LOYALTY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL = "loyalty_reward_events"


@pytest.fixture
async def redis_client() -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        await client.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the Redis event bus: no Redis at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL} (set LOYALTY_TEST_REDIS_URL)")
    yield client
    await client.aclose()


def needs_postgres(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the bus between workers matters on PostgreSQL (SQLite serves one worker)")


async def test_an_event_produced_on_one_worker_reaches_a_subscriber_of_another_through_redis(
    database_url, server: Server, tmp_path, redis_client
):
    needs_postgres(database_url)
    rules = server.settings.rules_dir
    customer = unique("redis")
    bus = {"LOYALTY_EVENT_BUS": REDIS_URL}
    published: list[bytes] = []
    watcher = redis_client.pubsub()
    await watcher.subscribe(CHANNEL)

    async def watch() -> None:
        async for message in watcher.listen():
            if message["type"] == "message":
                published.append(message["data"])

    watching = asyncio.create_task(watch())
    try:
        async with (
            serving(database_url, rules, tmp_path / "one.log", **bus) as one,
            serving(database_url, rules, tmp_path / "two.log", **bus) as two,
            httpx.AsyncClient(base_url=one, headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}) as client,
            subscribed(two, BOOTSTRAP_KEY, types=["customer.enrolled", "points.adjusted"]) as events,
        ):
            [(_, subscribers)] = await redis_client.pubsub_numsub(CHANNEL)
            await enroll(client, customer)
            data = await gql(client, ADJUST, input={"customerExternalId": customer, "points": 8, "reason": "x"})
            assert data["adjustPoints"]["errors"] == []
            received = [e for e in await events.take(2) if e["customerExternalId"] == customer]
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await watcher.aclose()

    assert [(e["type"], e["sequence"]) for e in received] == [("customer.enrolled", 1), ("points.adjusted", 2)]
    assert subscribers == 3  # both workers, and this test's watcher
    assert b"" in published  # "events written", told through Redis by the worker that wrote them


async def test_a_redis_that_is_down_at_start_stops_the_service_with_a_clear_error(database_url, server: Server):
    down = f"redis://127.0.0.1:{free_port()}/0"
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_RULES_DIR": str(server.settings.rules_dir),
        "LOYALTY_ENV": "test",
        "LOYALTY_EVENT_BUS": down,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        str(free_port()),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert f"loyalty: LOYALTY_EVENT_BUS: cannot reach Redis at {down}" in stderr.decode()


class Cuttable:
    """A TCP proxy to Redis that the test can cut, as a network path that fails."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/0"

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()


async def test_a_redis_lost_later_is_a_warning_and_new_events_still_arrive_by_the_poll(
    database_url, server: Server, redis_client, caplog
):
    needs_postgres(database_url)
    host, port = (
        redis_client.connection_pool.connection_kwargs["host"],
        redis_client.connection_pool.connection_kwargs["port"],
    )
    proxy = Cuttable((host, port))
    settings = make_settings(database_url, LOYALTY_EVENT_BUS=await proxy.start())
    customer = unique("lost")
    async with running_server(settings) as running, running.client() as client:
        await enroll(client, customer)
        async with subscribed(running.url, BOOTSTRAP_KEY, types=["points.adjusted"]) as events:
            with caplog.at_level(logging.WARNING, logger="loyalty.events"):
                proxy.cut()
                for _ in range(50):
                    if "lost the Redis event bus" in caplog.text:
                        break
                    await asyncio.sleep(0.1)
            # Written by another process (no in-process wake-up, and nothing on the bus):
            # only the tail's poll can find it.
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute(
                    "INSERT INTO reward_events (type, customer_external_id, occurred_at, payload)"
                    " VALUES ('points.adjusted', $1, now(), $2::jsonb)",
                    customer,
                    json.dumps({"points": 3, "reason": "elsewhere"}),
                )
            finally:
                await conn.close()
            [event] = await events.take(1, within=5)

    assert "lost the Redis event bus" in caplog.text
    assert [r.levelname for r in caplog.records if "lost the Redis event bus" in r.getMessage()] == ["WARNING"]
    assert (event["customerExternalId"], event["payload"]["points"]) == (customer, 3)
