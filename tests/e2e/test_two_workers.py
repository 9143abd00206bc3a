"""The real deployment shape: `loyalty serve --workers 2` on PostgreSQL, many requests at once."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from persistence import models
from persistence import repositories as repo
from tests.conftest import BOOTSTRAP_KEY, TEST_RULES_DIR, free_port, serve_env, unique
from tests.graphql_client import RECORD_ORDER, enroll, gql, order_input


@pytest.fixture
async def two_workers(database_url: str, server, tmp_path):
    async with serving_two_workers(database_url, server.settings.rules_dir, tmp_path) as client:
        yield client


@contextlib.asynccontextmanager
async def serving_two_workers(database_url: str, rules_dir: Path, tmp_path: Path, **extra_env: str):
    if database_url.startswith("sqlite"):
        pytest.skip("two workers need PostgreSQL (SQLite serves one worker)")
    port = free_port()
    env = serve_env(database_url, rules_dir, **extra_env)
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


async def test_twenty_concurrent_recordings_of_one_order_earn_once(two_workers):
    customer = unique("cust")
    await enroll(two_workers, customer)
    request = order_input(unique("order"), customer, ("SKU-1", 3, "19.99"))

    results = await asyncio.gather(*(gql(two_workers, RECORD_ORDER, input=request) for _ in range(20)))

    payloads = [r["recordOrder"] for r in results]
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert {p["pointsEarned"] for p in payloads} == {59}
    assert sum(not p["replayed"] for p in payloads) == 1
    earn_entries = await models.LedgerEntry.filter(customer__external_id=customer, kind="earn").count()
    assert earn_entries == 1
    stored = repo.to_customer(await repo.read_customer(customer, []))
    assert stored.balance == await repo.ledger_sums(customer)
    assert stored.order_count == 1


async def test_many_orders_for_one_customer_at_once_keep_the_balance_exact(two_workers):
    customer = unique("cust")
    await enroll(two_workers, customer)

    await asyncio.gather(
        *(
            gql(two_workers, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, f"{n}.00")))
            for n in range(1, 31)
        )
    )

    stored = repo.to_customer(await repo.read_customer(customer, []))
    assert stored.balance == await repo.ledger_sums(customer)
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


REDEEM = """
mutation($input: RedeemRewardInput!) {
  redeemReward(input: $input) { redemption { code } errors { code } }
}"""


async def customer_with_points(client: httpx.AsyncClient, points: int) -> str:
    customer = unique("cust")
    await enroll(client, customer)
    await gql(client, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, f"{points}.00")))
    return customer


async def test_a_hundred_concurrent_redemptions_against_a_balance_for_one_spend_once(two_workers):
    customer = await customer_with_points(two_workers, 100)
    request = {"rewardId": "coffee", "customerExternalId": customer}

    results = await asyncio.gather(*(gql(two_workers, REDEEM, input=request) for _ in range(100)))

    payloads = [r["redeemReward"] for r in results]
    assert sum(not p["errors"] for p in payloads) == 1
    assert {e["code"] for p in payloads for e in p["errors"]} == {"INSUFFICIENT_POINTS"}
    stored = repo.to_customer(await repo.read_customer(customer, []))
    assert stored.balance.available == 0
    assert stored.balance == await repo.ledger_sums(customer)
    assert await models.Redemption.filter(customer__external_id=customer).count() == 1


async def test_fifty_concurrent_orders_using_one_code_consume_it_once(two_workers):
    customer = await customer_with_points(two_workers, 100)
    redeemed = await gql(two_workers, REDEEM, input={"rewardId": "half-off", "customerExternalId": customer})
    code = redeemed["redeemReward"]["redemption"]["code"]

    results = await asyncio.gather(
        *(
            gql(
                two_workers,
                RECORD_ORDER,
                input=order_input(unique("order"), customer, ("S", 1, "40.00"), couponCodes=[code]),
            )
            for _ in range(50)
        )
    )

    payloads = [r["recordOrder"] for r in results]
    assert sum(not p["errors"] for p in payloads) == 1
    assert {e["code"] for p in payloads for e in p["errors"]} == {"COUPON_USED"}
    stored = repo.to_customer(await repo.read_customer(customer, []))
    assert stored.order_count == 2
    assert stored.balance == await repo.ledger_sums(customer)
