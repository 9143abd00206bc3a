"""Expiry under both policies and the `points.expiring` notices, through the API and the
jobs as `loyalty jobs run` runs them, with a moved clock; and a job killed between two
batches resumes to the ledger one uninterrupted run writes."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.clock import Clock, utcnow
from app.jobs import expire_points, release_pending_points, run_jobs, send_expiry_notices
from persistence import models
from rules import load_program
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.conftest import uow_of
from tests.e2e.test_jobs import assert_balance_is_the_sum_of_entries, customer_with_pending_points, kinds, points
from tests.graphql_client import ADJUST, RECORD_ORDER, enroll, gql, order_input
from tests.ledger_checks import outbox


@pytest.fixture
def moved_clock(moved_clock: Clock) -> Clock:
    """Started in the past: the events these tests write are dated by the moved clock, and
    ones dated in the future would still count as new to a webhook a later test registers."""
    moved_clock.move_to(datetime(2001, 3, 1, 12, tzinfo=UTC))
    return moved_clock


PENDING, EXPIRES, NOTICE = 14, 30, 7
INACTIVE, INACTIVE_NOTICE = 60, 10


async def _server_with(server: Server, tmp_path: Path, points: str, zone: str = "UTC") -> AsyncIterator[Server]:
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    program = folder / "program.yaml"
    settings = f"  currency: EUR\n  points: {points}\n  time_zone: {zone}\n"
    program.write_text(program.read_text().replace("  currency: EUR\n", settings, 1))
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


@pytest.fixture
async def award_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    async for running in _server_with(
        server, tmp_path, f"{{pending_days: {PENDING}, expires_in_days: {EXPIRES}, notice_days: {NOTICE}}}"
    ):
        yield running


# 14 hours ahead of UTC all year: noon UTC there is 02:00 on the next day.
FAR_EAST = "Pacific/Kiritimati"


@pytest.fixture
async def far_east_award_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    points = f"{{pending_days: {PENDING}, expires_in_days: {EXPIRES}, notice_days: {NOTICE}}}"
    async for running in _server_with(server, tmp_path, points, FAR_EAST):
        yield running


@pytest.fixture
async def far_east_inactivity_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    points = f"{{expires_after_inactive_days: {INACTIVE}, notice_days: {INACTIVE_NOTICE}}}"
    async for running in _server_with(server, tmp_path, points, FAR_EAST):
        yield running


@pytest.fixture
async def inactivity_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    async for running in _server_with(
        server, tmp_path, f"{{expires_after_inactive_days: {INACTIVE}, notice_days: {INACTIVE_NOTICE}}}"
    ):
        yield running


async def run_all(server: Server) -> None:
    await run_jobs(uow_of(server), None, utcnow(), load_program(server.settings.rules_dir))


async def order(server: Server, customer: str, amount: str) -> None:
    async with server.client() as admin:
        data = await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, amount)))
    assert data["recordOrder"]["errors"] == []


async def test_a_notice_comes_once_before_awarded_points_expire(award_server, moved_clock: Clock):
    customer = await customer_with_pending_points(award_server, "100.00")
    expires_on = (utcnow() + timedelta(days=PENDING + EXPIRES)).date().isoformat()

    # Pending points are never announced nor expired before they are available.
    moved_clock.advance(timedelta(days=PENDING - 1))
    await run_all(award_server)
    assert await outbox(customer, "points.expiring") == []

    moved_clock.advance(timedelta(days=EXPIRES - NOTICE + 2))
    policy = load_program(award_server.settings.rules_dir).settings.expiry
    uow = uow_of(award_server)
    await release_pending_points(uow, utcnow())
    await asyncio.gather(send_expiry_notices(uow, utcnow(), policy), send_expiry_notices(uow, utcnow(), policy))
    await run_all(award_server)

    [notice] = await outbox(customer, "points.expiring")
    assert (notice["points"], notice["expiresOn"]) == (100, expires_on)
    assert await outbox(customer, "points.expired") == []

    moved_clock.advance(timedelta(days=NOTICE))
    await run_all(award_server)
    await run_all(award_server)
    assert await points(award_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": 100}
    assert await outbox(customer, "points.expired") == [
        {"points": 100, "balanceAfter": {"available": 0, "pending": 0, "lifetimeEarned": 100}}
    ]
    assert len(await outbox(customer, "points.expiring")) == 1
    await assert_balance_is_the_sum_of_entries(award_server, customer)


async def test_all_points_expire_after_inactivity_and_an_activity_moves_the_date(inactivity_server, moved_clock: Clock):
    customer = unique("cust")
    async with inactivity_server.client() as admin:
        await enroll(admin, customer)
    await order(inactivity_server, customer, "100.00")
    async with inactivity_server.client() as admin:
        bonus = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 20, "reason": "goodwill"})
    assert bonus["adjustPoints"]["errors"] == []
    first_end = utcnow() + timedelta(days=INACTIVE)

    moved_clock.advance(timedelta(days=INACTIVE - INACTIVE_NOTICE + 1))
    await run_all(inactivity_server)
    await run_all(inactivity_server)
    assert [(n["points"], n["expiresOn"]) for n in await outbox(customer, "points.expiring")] == [
        (120, first_end.date().isoformat())
    ]

    # An order moves the end of inactivity: nothing expires at the first date.
    await order(inactivity_server, customer, "10.00")
    second_end = utcnow() + timedelta(days=INACTIVE)
    moved_clock.advance(timedelta(days=INACTIVE_NOTICE))
    await run_all(inactivity_server)
    assert (await points(inactivity_server, customer))["available"] == 130
    assert await outbox(customer, "points.expired") == []

    # A notice for the new date, then everything expires on it: a ledger entry per credit.
    moved_clock.move_to(second_end - timedelta(days=INACTIVE_NOTICE - 1))
    await run_all(inactivity_server)
    moved_clock.move_to(second_end + timedelta(minutes=1))
    await run_all(inactivity_server)
    await run_all(inactivity_server)

    assert [(n["points"], n["expiresOn"]) for n in await outbox(customer, "points.expiring")] == [
        (120, first_end.date().isoformat()),
        (130, second_end.date().isoformat()),
    ]
    assert await points(inactivity_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": 110}
    assert sorted(p for kind, _, p in await kinds(inactivity_server, customer) if kind == "expire") == [-100, -20, -10]
    assert [e["points"] for e in await outbox(customer, "points.expired")] == [130]
    await assert_balance_is_the_sum_of_entries(inactivity_server, customer)


async def test_a_notice_names_the_day_points_expire_in_the_program_time_zone(far_east_award_server, moved_clock: Clock):
    customer = await customer_with_pending_points(far_east_award_server, "100.00")
    expires_at = utcnow() + timedelta(days=PENDING + EXPIRES)
    there = expires_at.astimezone(ZoneInfo(FAR_EAST)).date()
    assert there != expires_at.date()  # the moved clock's noon: the zone's next day

    moved_clock.advance(timedelta(days=PENDING + EXPIRES - NOTICE + 1))
    await run_all(far_east_award_server)
    await run_all(far_east_award_server)

    [notice] = await outbox(customer, "points.expiring")
    assert (notice["points"], notice["expiresOn"]) == (100, there.isoformat())
    # The entry's own time, in UTC as Python writes it (the clock ran on while the order went in).
    assert notice["expiresAt"].endswith("+00:00")
    assert abs(datetime.fromisoformat(notice["expiresAt"]) - expires_at) < timedelta(seconds=30)


async def test_an_inactivity_notice_names_the_day_in_the_program_time_zone(
    far_east_inactivity_server, moved_clock: Clock
):
    customer = unique("cust")
    async with far_east_inactivity_server.client() as admin:
        await enroll(admin, customer)
    await order(far_east_inactivity_server, customer, "100.00")
    ends = utcnow() + timedelta(days=INACTIVE)
    there = ends.astimezone(ZoneInfo(FAR_EAST)).date()
    assert there != ends.date()

    moved_clock.advance(timedelta(days=INACTIVE - INACTIVE_NOTICE + 1))
    await run_all(far_east_inactivity_server)

    [notice] = await outbox(customer, "points.expiring")
    assert (notice["points"], notice["expiresOn"]) == (100, there.isoformat())
    assert abs(datetime.fromisoformat(notice["expiresAt"]) - ends) < timedelta(seconds=30)


class Killed(Exception):
    pass


async def test_a_job_killed_between_batches_resumes_to_the_same_ledger(award_server, moved_clock: Clock):
    customers = [await customer_with_pending_points(award_server, f"{10 * (n + 1)}.00") for n in range(4)]
    ids = sorted([(await models.Customer.get(external_id=c)).id for c in customers])
    moved_clock.advance(timedelta(days=PENDING + 1))
    uow = uow_of(award_server)

    async def killed_after_the_second(last_id: int) -> None:
        if last_id == ids[1]:
            raise Killed

    # One customer id a batch: the run dies after the second of our customers' batches.
    with pytest.raises(Killed):
        await release_pending_points(uow, utcnow(), range_size=1, after_batch=killed_after_the_second)
    done = [c for c in customers if (await points(award_server, c))["available"] > 0]
    assert len(done) == 2
    await release_pending_points(uow, utcnow(), range_size=1)

    moved_clock.advance(timedelta(days=EXPIRES))
    with pytest.raises(Killed):
        await expire_points(uow, utcnow(), range_size=1, after_batch=killed_after_the_second)
    await expire_points(uow, utcnow(), range_size=3)

    for n, customer in enumerate(customers):
        earned = 10 * (n + 1)
        assert await points(award_server, customer) == {"available": 0, "pending": 0, "lifetimeEarned": earned}
        assert await kinds(award_server, customer) == sorted(
            [
                ("earn", "pending", earned),
                ("release", "pending", -earned),
                ("release", "available", earned),
                ("expire", "available", -earned),
            ]
        )
        assert [e["points"] for e in await outbox(customer, "points.pending_released")] == [earned]
        assert [e["points"] for e in await outbox(customer, "points.expired")] == [earned]
        await assert_balance_is_the_sum_of_entries(award_server, customer)
