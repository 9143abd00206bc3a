"""Scheduled jobs: pending points become available when due, unspent points expire, and
a job run twice (or twice at once) acts once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from app import reads
from app.clock import utcnow
from app.jobs import expire_points, release_pending_points, run_jobs
from domain.errors import DomainError
from persistence import models
from rules import load_program
from tests.conftest import REPO_ROOT, TEST_RULES_DIR, Server, unique
from tests.e2e.conftest import EXPIRES_IN_DAYS, PENDING_DAYS, uow_of
from tests.graphql_client import ADJUST, CUSTOMER, RECORD_ORDER, enroll, gql, order_input
from tests.ledger_checks import assert_points_are_the_sum_of_entries, outbox


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


async def assert_balance_is_the_sum_of_entries(server: Server, customer: str) -> None:
    await assert_points_are_the_sum_of_entries(await points(server, customer), customer)


async def kinds(server: Server, customer: str) -> list[tuple[str, str, int]]:
    rows, _ = await reads.ledger_page(server.uow, customer, 100, None)
    return sorted((row.kind, row.bucket, row.points) for row in rows)


async def test_pending_points_stay_pending_until_their_day(pending_server):
    customer = await customer_with_pending_points(pending_server, "100.00")
    assert await points(pending_server, customer) == {"available": 0, "pending": 100, "lifetimeEarned": 100}

    await release_pending_points(uow_of(pending_server), utcnow() + timedelta(days=PENDING_DAYS - 1))

    assert await points(pending_server, customer) == {"available": 0, "pending": 100, "lifetimeEarned": 100}
    assert await outbox(customer, "points.pending_released") == []


async def test_pending_points_are_released_once_when_due_even_by_two_runs_at_once(pending_server):
    customer = await customer_with_pending_points(pending_server, "100.00")
    later, uow = utcnow() + timedelta(days=PENDING_DAYS + 1), uow_of(pending_server)

    reports = await asyncio.gather(release_pending_points(uow, later), release_pending_points(uow, later))

    assert sum(report.points for report in reports) >= 100
    assert await points(pending_server, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    assert await kinds(pending_server, customer) == [
        ("earn", "pending", 100),
        ("release", "available", 100),
        ("release", "pending", -100),
    ]
    assert await outbox(customer, "points.pending_released") == [
        {"points": 100, "balanceAfter": {"available": 100, "pending": 0, "lifetimeEarned": 100}}
    ]
    await assert_balance_is_the_sum_of_entries(pending_server, customer)

    await release_pending_points(uow_of(pending_server), later + timedelta(days=1))

    assert len(await kinds(pending_server, customer)) == 3


async def test_expiry_takes_what_is_left_of_expired_points_and_never_later_earnings(pending_server):
    customer = await customer_with_pending_points(pending_server, "100.00")
    await release_pending_points(uow_of(pending_server), utcnow() + timedelta(days=PENDING_DAYS + 1))
    async with pending_server.client() as admin:
        spent = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": -30, "reason": "spent"})
    assert spent["adjustPoints"]["errors"] == []
    expired_at = utcnow() + timedelta(days=PENDING_DAYS + EXPIRES_IN_DAYS + 1)

    uow = uow_of(pending_server)
    await asyncio.gather(expire_points(uow, expired_at), expire_points(uow, expired_at))

    assert await points(pending_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": 100}
    assert ("expire", "available", -70) in await kinds(pending_server, customer)
    assert await outbox(customer, "points.expired") == [
        {"points": 70, "balanceAfter": {"available": 0, "pending": 0, "lifetimeEarned": 100}}
    ]

    async with pending_server.client() as admin:
        await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 20, "reason": "goodwill"})
    await expire_points(uow_of(pending_server), expired_at + timedelta(days=1))

    assert (await points(pending_server, customer))["available"] == 20
    await assert_balance_is_the_sum_of_entries(pending_server, customer)


async def test_all_spent_points_expire_nothing_and_are_not_taken_from_later_earnings(pending_server):
    customer = await customer_with_pending_points(pending_server, "40.00")
    await release_pending_points(uow_of(pending_server), utcnow() + timedelta(days=PENDING_DAYS + 1))
    async with pending_server.client() as admin:
        await gql(admin, ADJUST, input={"customerExternalId": customer, "points": -40, "reason": "spent"})
    expired_at = utcnow() + timedelta(days=PENDING_DAYS + EXPIRES_IN_DAYS + 1)

    await expire_points(uow_of(pending_server), expired_at)
    async with pending_server.client() as admin:
        await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 25, "reason": "goodwill"})
    await expire_points(uow_of(pending_server), expired_at + timedelta(days=1))

    assert ("expire", "available", 0) in await kinds(pending_server, customer)
    assert (await points(pending_server, customer))["available"] == 25
    assert await outbox(customer, "points.expired") == []


async def test_running_every_job_releases_then_expires(pending_server):
    customer = await customer_with_pending_points(pending_server, "60.00")
    expired_at = utcnow() + timedelta(days=PENDING_DAYS + EXPIRES_IN_DAYS + 1)

    # Expiry alone leaves never-released points to the release job...
    await expire_points(uow_of(pending_server), expired_at)
    assert await points(pending_server, customer) == {"available": 0, "pending": 60, "lifetimeEarned": 60}
    # ...which every run does first.
    reports = await run_jobs(uow_of(pending_server), None, expired_at, load_program(TEST_RULES_DIR))

    assert [report.name for report in reports] == [
        "points-release",
        "redemption-expiry",
        "points-expiry",
        "expiry-notices",
        "referral-completion",
        "learned-suggestions",
        "tier-review",
        "birthdays",
        "abandoned-carts",
    ]
    assert await points(pending_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": 60}
    await assert_balance_is_the_sum_of_entries(pending_server, customer)


async def test_an_unknown_job_is_refused(server):
    with pytest.raises(DomainError, match="points-release, redemption-expiry, points-expiry"):
        await run_jobs(uow_of(server), "birthdays-tomorrow", utcnow(), load_program(TEST_RULES_DIR))


def loyalty(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The `loyalty` command on a fresh SQLite database with the test rules."""
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": f"sqlite://{tmp_path / 'jobs.db'}",
        "LOYALTY_RULES_DIR": str(TEST_RULES_DIR),
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_command_runs_every_job_once_and_prints_a_line_for_each(tmp_path):
    done = loyalty(tmp_path, "jobs", "run")
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == [
        "points-release",
        "redemption-expiry",
        "points-expiry",
        "expiry-notices",
        "referral-completion",
        "learned-suggestions",
        "tier-review",
        "birthdays",
        "abandoned-carts",
    ]


RECORD_RETURN = """
mutation($input: RecordReturnInput!) {
  recordReturn(input: $input) { pointsReversed errors { field code message } }
}"""


async def test_only_what_a_return_left_pending_is_released(pending_server):
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

    await release_pending_points(uow_of(pending_server), utcnow() + timedelta(days=PENDING_DAYS + 1))

    assert await points(pending_server, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    [release] = await models.LedgerEntry.filter(customer__external_id=customer, kind="release", bucket="available")
    kept_earn = await models.LedgerEntry.get(order__external_id=kept, kind="earn")
    assert (release.related_entry_id, release.points) == (kept_earn.id, 100)
    await assert_balance_is_the_sum_of_entries(pending_server, customer)


def test_jobs_run_at_a_given_time_replays_that_day(tmp_path):
    done = loyalty(tmp_path, "jobs", "run", "points-release", "--at", "2027-03-01T09:00:00+01:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("points-release: 0 points"), done.stdout

    refused = loyalty(tmp_path, "jobs", "run", "--at", "yesterday")
    assert refused.returncode == 2 and "not an ISO 8601 time" in refused.stderr
