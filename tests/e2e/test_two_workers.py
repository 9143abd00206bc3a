"""The real deployment shape: `loyalty serve --workers 2` on PostgreSQL, many requests at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app import reads
from tests.conftest import BOOTSTRAP_KEY, TEST_RULES_DIR, free_port, unique
from tests.graphql_client import RECORD_ORDER, enroll, gql, order_input
from tests.rows import rows


@pytest.fixture
async def two_workers(database_url: str, server, tmp_path):
    async with serving_two_workers(database_url, server.settings.rules_dir, tmp_path) as client:
        yield client


@contextlib.asynccontextmanager
async def serving_two_workers(database_url: str, rules_dir: Path, tmp_path: Path, **extra_env: str):
    if database_url.startswith("sqlite"):
        pytest.skip("two workers need PostgreSQL (SQLite serves one worker)")
    port = free_port()
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "LOYALTY_RULES_DIR": str(rules_dir),
        "LOYALTY_ENV": "test",
        **extra_env,
    }
    log = open(tmp_path / "server.log", "wb")  # closed below, after the server
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}) as client:
            for _ in range(300):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError((tmp_path / "server.log").read_text())
                await asyncio.sleep(0.1)
            yield client
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        log.close()


async def test_twenty_concurrent_recordings_of_one_order_earn_once(uow, two_workers):
    customer = unique("cust")
    await enroll(two_workers, customer)
    request = order_input(unique("order"), customer, ("SKU-1", 3, "19.99"))

    results = await asyncio.gather(*(gql(two_workers, RECORD_ORDER, input=request) for _ in range(20)))

    payloads = [r["recordOrder"] for r in results]
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert {p["pointsEarned"] for p in payloads} == {59}
    assert sum(not p["replayed"] for p in payloads) == 1
    earn_entries = await rows(
        uow,
        "SELECT e.id FROM ledger_entries e JOIN customers c ON c.id = e.customer_id"
        " WHERE c.external_id = :customer AND e.kind = 'earn'",
        customer=customer,
    )
    assert len(earn_entries) == 1
    stored = await reads.find_customer(uow, customer)
    assert stored.balance == await reads.ledger_sums(uow, customer)
    assert stored.order_count == 1


async def test_many_orders_for_one_customer_at_once_keep_the_balance_exact(uow, two_workers):
    customer = unique("cust")
    await enroll(two_workers, customer)

    await asyncio.gather(
        *(
            gql(two_workers, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, f"{n}.00")))
            for n in range(1, 31)
        )
    )

    stored = await reads.find_customer(uow, customer)
    assert stored.balance == await reads.ledger_sums(uow, customer)
    assert stored.balance.available == sum(range(1, 31))
    assert stored.order_count == 30


RELOAD = "mutation { reloadRules { version activated errors { message } } }"


async def test_reload_rules_on_one_worker_puts_the_version_in_force_on_every_worker_within_two_seconds(
    database_url, tmp_path
):
    rules = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, rules)
    # No folder watcher: only reloadRules, answered by one worker, changes the version.
    async with serving_two_workers(database_url, rules, tmp_path, LOYALTY_RULES_WATCH="0") as client:
        before = {(await client.get("/health")).json()["rulesVersion"] for _ in range(20)}
        program = rules / "program.yaml"
        program.write_text(program.read_text().replace("per_unit: 1}", "per_unit: 3}", 1))

        reloaded = (await gql(client, RELOAD))["reloadRules"]
        assert reloaded["activated"] is True and reloaded["errors"] == []
        await asyncio.sleep(2)
        seen = set()
        for _ in range(24):  # a new connection each time, so both workers answer
            async with httpx.AsyncClient(base_url=str(client.base_url)) as fresh:
                seen.add((await fresh.get("/health")).json()["rulesVersion"])

    assert len(before) == 1 and reloaded["version"] not in before
    assert seen == {reloaded["version"]}
