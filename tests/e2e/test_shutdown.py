"""SIGTERM under a burst of orders: `loyalty serve` reports not ready, finishes what came
in, and stops; every order completes or fails in a way a client may retry, and every
order the service acknowledged is in the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from subprocess import Popen

import httpx
import pytest

from app.clock import Clock, utcnow
from app.jobs import release_pending_points
from app.scheduler import run_jobs
from persistence import models
from persistence import repositories as repo
from tests.conftest import BOOTSTRAP_KEY, Server, free_port, serve_env, unique
from tests.e2e.conftest import EXPIRES_IN_DAYS, PENDING_DAYS, program_of, uow_of
from tests.e2e.test_jobs import assert_balance_is_the_sum_of_entries, customer_with_pending_points, points
from tests.graphql_client import RECORD_ORDER, enroll, order_input
from tests.ledger_checks import outbox

BURST = 200


@contextlib.asynccontextmanager
async def serving(database_url: str, rules_dir: Path, log_path: Path, **env: str) -> AsyncIterator[tuple[Popen, str]]:
    """`loyalty serve` in a process of its own, once ready; killed if the test left it running."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=serve_env(database_url, rules_dir, **env),
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
                        raise RuntimeError(await asyncio.to_thread(log_path.read_text))
                    await asyncio.sleep(0.1)
            yield process, url
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
async def serve_process(database_url: str, server, tmp_path):
    if database_url.startswith("sqlite"):
        pytest.skip("checks the database a second process writes: PostgreSQL")
    log_path = tmp_path / "server.log"
    # A drain long enough to see readiness off while the service still answers.
    async with serving(
        database_url,
        server.settings.rules_dir,
        log_path,
        LOYALTY_SHUTDOWN_DRAIN_SECONDS="1",
        LOYALTY_SHUTDOWN_GRACE_SECONDS="30",
    ) as (process, url):
        yield process, url, log_path


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


JOB, GRACE, MARGIN = "points-expiry", 3, 10


async def customers_with_expired_points(server: Server, moved_clock: Clock, count: int) -> list[str]:
    """Customers whose points were earned long ago, released when due, and expired a day ago."""
    moved_clock.advance(-timedelta(days=PENDING_DAYS + EXPIRES_IN_DAYS + 2))
    try:
        customers = [await customer_with_pending_points(server, "100.00") for _ in range(count)]
        await release_pending_points(uow_of(server), utcnow() + timedelta(days=PENDING_DAYS + 1))
    finally:
        moved_clock.reset()
    return customers


async def run_of(job: str, pid: int) -> models.JobRun:
    """The run of `job` that the server process `pid` has started."""
    for _ in range(600):
        run = await models.JobRun.filter(name=job, status="running", holder__contains=f":{pid}:").first()
        if run is not None:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"the server never started {job}")


async def test_sigterm_stops_the_scheduled_job_in_flight_and_the_next_run_does_its_work_once(
    pending_server, moved_clock, database_url, tmp_path
):
    if database_url.startswith("sqlite"):
        pytest.skip("checks the database a second process writes: PostgreSQL")
    customers = await customers_with_expired_points(pending_server, moved_clock, 3)
    uow = uow_of(pending_server)
    # Due now, whatever earlier tests left of its schedule.
    await models.JobLease.filter(name=JOB).update(leased_until=utcnow(), next_run_at=utcnow())
    locked, done = asyncio.Event(), asyncio.Event()

    async def long_transaction() -> None:
        # One of the customers is held by a transaction that does not end (an order stuck
        # half-way, an operator's session): the job's batch waits for its lock.
        async with uow.transaction() as session:
            await session.customers.lock_customer(customers[-1], ["customer"])
            locked.set()
            await done.wait()

    holder = asyncio.create_task(long_transaction())
    await locked.wait()
    log_path = tmp_path / "server.log"
    pid = 0
    try:
        async with serving(
            database_url,
            pending_server.settings.rules_dir,
            log_path,
            LOYALTY_SCHEDULER="on",
            LOYALTY_SHUTDOWN_GRACE_SECONDS=str(GRACE),
        ) as (process, _):
            pid = process.pid
            run = await run_of(JOB, pid)
            await asyncio.sleep(0.5)  # into its batch, waiting for the lock
            process.send_signal(signal.SIGTERM)
            try:
                exit_code: int | None = await asyncio.to_thread(process.wait, GRACE + MARGIN)
            except subprocess.TimeoutExpired:
                exit_code = None
    finally:
        done.set()
        await holder
        # The jobs it ran are due again for the tests that follow (a real schedule put them
        # LOYALTY_JOBS_EVERY_SECONDS later).
        await models.JobLease.filter(holder__contains=f":{pid}:").update(leased_until=utcnow(), next_run_at=utcnow())
    log = log_path.read_text()

    # uvicorn ends by re-raising the signal it handled, as a process stopped by it exits.
    assert exit_code == -signal.SIGTERM, log[-3000:]
    assert f"job {JOB} stopped by shutdown" in log
    assert (await models.JobRun.get(id=run.id)).status == "stopped"
    # Its lease is free and the job due at once, for whichever runner ticks next.
    lease = await models.JobLease.get(name=JOB)
    assert lease.leased_until <= utcnow() and lease.next_run_at <= utcnow()
    assert (await points(pending_server, customers[-1]))["available"] == 100

    again = await run_jobs(uow, JOB, utcnow(), program_of(pending_server))

    assert [outcome.status for outcome in again] == ["succeeded"]
    for customer in customers:
        assert await points(pending_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": 100}
        assert await outbox(customer, "points.expired") == [
            {"points": 100, "balanceAfter": {"available": 0, "pending": 0, "lifetimeEarned": 100}}
        ]
        await assert_balance_is_the_sum_of_entries(pending_server, customer)
