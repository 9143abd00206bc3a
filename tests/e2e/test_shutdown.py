"""SIGTERM under a burst of orders: `loyalty serve` reports not ready, finishes what came
in, and stops; every order completes or fails in a way a client may retry, and every
order the service acknowledged is in the database."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections import Counter

import httpx
import pytest

from persistence import models
from persistence import repositories as repo
from tests.conftest import BOOTSTRAP_KEY, free_port, serve_env, unique
from tests.graphql_client import RECORD_ORDER, enroll, order_input

BURST = 200


@pytest.fixture
async def serve_process(database_url: str, server, tmp_path):
    if database_url.startswith("sqlite"):
        pytest.skip("checks the database a second process writes: PostgreSQL")
    port = free_port()
    # A drain long enough to see readiness off while the service still answers.
    env = serve_env(
        database_url,
        server.settings.rules_dir,
        LOYALTY_SHUTDOWN_DRAIN_SECONDS="1",
        LOYALTY_SHUTDOWN_GRACE_SECONDS="30",
    )
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url) as probe:
                for _ in range(300):
                    try:
                        if (await probe.get("/health/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if process.poll() is not None:
                        raise RuntimeError(log_path.read_text())
                    await asyncio.sleep(0.1)
            yield process, url, log_path
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def record(client: httpx.AsyncClient, request: dict) -> str:
    """'ok', or why not: 'refused' and 'unavailable' are clean failures a client retries."""
    try:
        response = await client.post("/graphql", json={"query": RECORD_ORDER, "variables": {"input": request}})
    except httpx.ConnectError:
        return "refused"
    except httpx.TransportError as error:
        return f"broken: {error!r}"
    if response.status_code == 503:
        return "unavailable"
    payload = response.json()["data"]["recordOrder"] if response.status_code == 200 else None
    return "ok" if payload and payload["errors"] == [] else f"failed: {response.status_code} {response.text[:200]}"


async def test_sigterm_during_a_burst_of_orders_finishes_them_and_loses_nothing(serve_process):
    process, url, log_path = serve_process
    # One connection per order, all at once.
    client = httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"},
        limits=httpx.Limits(max_connections=BURST),
        timeout=60,
    )
    async with client, httpx.AsyncClient(base_url=url) as probe:
        customer = unique("cust")
        await enroll(client, customer)
        orders = [order_input(unique("order"), customer, ("SKU-1", 1, "10.00")) for _ in range(BURST)]

        burst = [asyncio.create_task(record(client, order)) for order in orders]
        while not any(task.done() for task in burst):
            await asyncio.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        ready = await probe.get("/health/ready")
        live = await probe.get("/health/live")
        outcomes = await asyncio.gather(*burst)
    exit_code = await asyncio.to_thread(process.wait, 60)

    assert (ready.status_code, ready.json()["checks"]["accepting"]) == (503, "failing")
    assert live.status_code == 200
    counts = Counter(outcome if outcome in ("ok", "refused", "unavailable") else "other" for outcome in outcomes)
    assert counts["other"] == 0, [o for o in outcomes if o not in ("ok", "refused", "unavailable")][:5]
    assert counts["ok"] > 0
    acknowledged = [order["externalId"] for order, outcome in zip(orders, outcomes, strict=True) if outcome == "ok"]
    # uvicorn ends by re-raising the signal it handled, as a process stopped by it exits.
    assert exit_code == -signal.SIGTERM, log_path.read_text()[-3000:]
    log = log_path.read_text()
    assert "SIGTERM: draining" in log and "Cancel" not in log
    # Off a terminal the log is one JSON object a line; each order has one, with its id.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    answered = [line for line in lines if line["logger"] == "loyalty.request" and line["path"] == "/graphql"]
    assert len(answered) == 1 + len(acknowledged)  # and the enrolment
    assert all(len(line["request_id"]) == 32 and line.get("caller") == "api_key" for line in answered)
    assert BOOTSTRAP_KEY not in log
    assert await models.Order.filter(external_id__in=acknowledged).count() == len(acknowledged)
    stored = repo.to_customer(await repo.read_customer(customer, []))
    assert stored.order_count == len(acknowledged)
    assert stored.balance == await repo.ledger_sums(customer)
