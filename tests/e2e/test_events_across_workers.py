"""Two `loyalty serve` processes on one PostgreSQL database: an event produced through
one reaches a subscriber connected to the other (LISTEN/NOTIFY between workers)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOOTSTRAP_KEY, Server, free_port, unique
from tests.graphql_client import ADJUST, enroll, gql
from tests.ws_client import subscribed


@contextlib.asynccontextmanager
async def serving(database_url: str, rules_dir: Path, log_path: Path, **extra_env: str) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "LOYALTY_RULES_DIR": str(rules_dir),
        "LOYALTY_ENV": "test",
        **extra_env,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                for _ in range(300):
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/health")).status_code == 200:
                            break
                    if process.poll() is not None:
                        raise RuntimeError(f"the server exited; see {log_path}")
                    await asyncio.sleep(0.1)
            yield url
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


async def test_an_event_produced_on_one_worker_reaches_a_subscriber_of_another(database_url, server: Server, tmp_path):
    if database_url.startswith("sqlite"):
        pytest.skip("two workers need PostgreSQL (SQLite serves one worker)")
    rules = server.settings.rules_dir
    customer = unique("across")
    async with (
        serving(database_url, rules, tmp_path / "one.log") as one,
        serving(database_url, rules, tmp_path / "two.log") as two,
        httpx.AsyncClient(base_url=one, headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}) as client,
        subscribed(two, BOOTSTRAP_KEY, types=["customer.enrolled", "points.adjusted"]) as events,
    ):
        await asyncio.sleep(0.2)
        await enroll(client, customer)
        data = await gql(client, ADJUST, input={"customerExternalId": customer, "points": 8, "reason": "x"})
        assert data["adjustPoints"]["errors"] == []
        received = [e for e in await events.take(2) if e["customerExternalId"] == customer]

    assert [(e["type"], e["sequence"]) for e in received] == [("customer.enrolled", 1), ("points.adjusted", 2)]
