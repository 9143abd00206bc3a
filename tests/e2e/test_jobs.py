"""Scheduled jobs: pending points become available when due, unspent points expire, and
a job run twice (or twice at once) acts once."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from app import reads
from app.clock import utcnow
from app.jobs import expire_points, release_pending_points, run_jobs
from domain.errors import DomainError
from persistence.unit_of_work import UnitOfWork
from tests.conftest import REPO_ROOT, TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.graphql_client import ADJUST, CUSTOMER, RECORD_ORDER, enroll, gql, order_input
from tests.rows import rows

PENDING_DAYS, EXPIRES_IN_DAYS = 14, 30


@pytest.fixture
async def pending_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    """A second server on the same database whose rules keep points pending for 14 days
    and let them expire 30 days after that."""
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    program = folder / "program.yaml"
    text = program.read_text()
    assert "  currency: EUR\n" in text
    program.write_text(
        text.replace(
            "  currency: EUR\n",
            f"  currency: EUR\n  points: {{pending_days: {PENDING_DAYS}, expires_in_days: {EXPIRES_IN_DAYS}}}\n",
            1,
        )
    )
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


async def customer_with_pending_points(server: Server, amount: str) -> str:
    customer = unique("cust")
    async with server.client() as admin:
        await enroll(admin, customer)
        data = await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, amount)))
    assert data["recordOrder"]["errors"] == []
    return customer


async def points(server: Server, customer: str) -> dict:
    async with server.client() as admin:
        return (await gql(admin, CUSTOMER, id=customer))["customer"]["points"]


async def assert_balance_is_the_sum_of_entries(uow: UnitOfWork, server: Server, customer: str) -> None:
    seen = await points(server, customer)
    sums = await reads.ledger_sums(uow, customer)
    assert (seen["available"], seen["pending"], seen["lifetimeEarned"]) == (
        sums.available,
        sums.pending,
        sums.lifetime_earned,
    )


async def kinds(uow: UnitOfWork, customer: str) -> list[tuple[str, str, int]]:
    rows, _ = await reads.ledger_page(uow, customer, 100, None)
    return sorted((row.kind, row.bucket, row.points) for row in rows)


async def outbox(uow: UnitOfWork, customer: str, event_type: str) -> list[dict]:
    found = await rows(
        uow,
        "SELECT payload FROM reward_events WHERE customer_external_id = :customer AND type = :type ORDER BY id",
        "reward_events",
        customer=customer,
        type=event_type,
    )
    return [row["payload"] for row in found]


async def test_pending_points_stay_pending_until_their_day(uow, pending_server):
    customer = await customer_with_pending_points(pending_server, "100.00")
    assert await points(pending_server, customer) == {"available": 0, "pending": 100, "lifetimeEarned": 100}

    await release_pending_points(uow, utcnow() + timedelta(days=PENDING_DAYS - 1))

    assert await points(pending_server, customer) == {"available": 0, "pending": 100, "lifetimeEarned": 100}
    assert await outbox(uow, customer, "points.pending_released") == []


async def test_pending_points_are_released_once_when_due_even_by_two_runs_at_once(uow, pending_server):
    customer = await customer_with_pending_points(pending_server, "100.00")
    later = utcnow() + timedelta(days=PENDING_DAYS + 1)

    reports = await asyncio.gather(release_pending_points(uow, later), release_pending_points(uow, later))

    assert sum(report.points for report in reports) >= 100
    assert await points(pending_server, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    assert await kinds(uow, customer) == [
        ("earn", "pending", 100),
        ("release", "available", 100),
        ("release", "pending", -100),
    ]
    assert await outbox(uow, customer, "points.pending_released") == [{"points": 100}]
    await assert_balance_is_the_sum_of_entries(uow, pending_server, customer)

    await release_pending_points(uow, later + timedelta(days=1))

    assert len(await kinds(uow, customer)) == 3


async def test_expiry_takes_what_is_left_of_expired_points_and_never_later_earnings(uow, pending_server):
    customer = await customer_with_pending_points(pending_server, "100.00")
    await release_pending_points(uow, utcnow() + timedelta(days=PENDING_DAYS + 1))
    async with pending_server.client() as admin:
        spent = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": -30, "reason": "spent"})
    assert spent["adjustPoints"]["errors"] == []
    expired_at = utcnow() + timedelta(days=PENDING_DAYS + EXPIRES_IN_DAYS + 1)

    await asyncio.gather(expire_points(uow, expired_at), expire_points(uow, expired_at))

    assert await points(pending_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": 100}
    assert ("expire", "available", -70) in await kinds(uow, customer)
    assert await outbox(uow, customer, "points.expired") == [{"points": 70}]

    async with pending_server.client() as admin:
        await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 20, "reason": "goodwill"})
    await expire_points(uow, expired_at + timedelta(days=1))

    assert (await points(pending_server, customer))["available"] == 20
    await assert_balance_is_the_sum_of_entries(uow, pending_server, customer)


async def test_all_spent_points_expire_nothing_and_are_not_taken_from_later_earnings(uow, pending_server):
    customer = await customer_with_pending_points(pending_server, "40.00")
    await release_pending_points(uow, utcnow() + timedelta(days=PENDING_DAYS + 1))
    async with pending_server.client() as admin:
        await gql(admin, ADJUST, input={"customerExternalId": customer, "points": -40, "reason": "spent"})
    expired_at = utcnow() + timedelta(days=PENDING_DAYS + EXPIRES_IN_DAYS + 1)

    await expire_points(uow, expired_at)
    async with pending_server.client() as admin:
        await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 25, "reason": "goodwill"})
    await expire_points(uow, expired_at + timedelta(days=1))

    assert ("expire", "available", 0) in await kinds(uow, customer)
    assert (await points(pending_server, customer))["available"] == 25
    assert await outbox(uow, customer, "points.expired") == []


async def test_running_every_job_releases_then_expires(uow, pending_server):
    customer = await customer_with_pending_points(pending_server, "60.00")
    expired_at = utcnow() + timedelta(days=PENDING_DAYS + EXPIRES_IN_DAYS + 1)

    # Expiry alone leaves never-released points to the release job...
    await expire_points(uow, expired_at)
    assert await points(pending_server, customer) == {"available": 0, "pending": 60, "lifetimeEarned": 60}
    # ...which every run does first.
    reports = await run_jobs(uow, None, expired_at)

    assert [report.name for report in reports] == ["points-release", "points-expiry"]
    assert await points(pending_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": 60}
    await assert_balance_is_the_sum_of_entries(uow, pending_server, customer)


async def test_an_unknown_job_is_refused(uow):
    with pytest.raises(DomainError, match="points-release, points-expiry"):
        await run_jobs(uow, "birthdays-tomorrow", utcnow())


def test_the_command_runs_every_job_once_and_prints_a_line_for_each(tmp_path):
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": f"sqlite://{tmp_path / 'jobs.db'}",
        "LOYALTY_RULES_DIR": str(TEST_RULES_DIR),
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "jobs", "run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["points-release", "points-expiry"]


RECORD_RETURN = """
mutation($input: RecordReturnInput!) {
  recordReturn(input: $input) { pointsReversed errors { field code message } }
}"""


async def test_only_what_a_return_left_pending_is_released(uow, pending_server):
    customer = unique("cust")
    returned, kept = unique("order"), unique("order")
    async with pending_server.client() as admin:
        await enroll(admin, customer)
        for order in (returned, kept):
            request = order_input(order, customer, ("SKU-1", 1, "100.00"))
            assert (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]["errors"] == []
        back = {"externalId": unique("return"), "orderExternalId": returned, "lines": [{"sku": "SKU-1", "quantity": 1}]}
        payload = (await gql(admin, RECORD_RETURN, input=back))["recordReturn"]
    assert payload == {"pointsReversed": 100, "errors": []}

    await release_pending_points(uow, utcnow() + timedelta(days=PENDING_DAYS + 1))

    assert await points(pending_server, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    [release] = await rows(
        uow,
        "SELECT e.related_entry_id, e.points FROM ledger_entries e JOIN customers c ON c.id = e.customer_id"
        " WHERE c.external_id = :customer AND e.kind = 'release' AND e.bucket = 'available'",
        customer=customer,
    )
    [kept_earn] = await rows(
        uow,
        "SELECT e.id FROM ledger_entries e JOIN orders o ON o.id = e.order_id"
        " WHERE o.external_id = :order AND e.kind = 'earn'",
        order=kept,
    )
    assert (release["related_entry_id"], release["points"]) == (kept_earn["id"], 100)
    await assert_balance_is_the_sum_of_entries(uow, pending_server, customer)
