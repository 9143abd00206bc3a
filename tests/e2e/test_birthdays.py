"""Birthdays: the job wishes each customer a happy birthday once a year, on the day, and the
event rules reward it; February 29 falls on February 28 in other years."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.birthdays import birthdays_on
from app.clock import Clock, utcnow
from app.scheduler import run_jobs
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.conftest import program_of, uow_of
from tests.e2e.test_jobs import assert_balance_is_the_sum_of_entries, outbox, points
from tests.graphql_client import enroll


@pytest.fixture
async def birthday_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "birthday.yaml").write_text(
        "rules:\n  - id: birthday-gift\n    on: customer.birthday\n    then: {points: {fixed: 100}}\n"
    )
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


async def test_a_birthday_is_wished_and_rewarded_once_on_the_day(birthday_server, moved_clock: Clock):
    moved_clock.move_to(datetime(2031, 6, 14, 23, 0, tzinfo=UTC))
    customer = unique("cust")
    async with birthday_server.client() as admin:
        await enroll(admin, customer, birthday="1990-06-15")

    await run_jobs(uow_of(birthday_server), "birthdays", utcnow(), program_of(birthday_server))
    assert await outbox(customer, "customer.birthday") == []

    moved_clock.move_to(datetime(2031, 6, 15, 8, 0, tzinfo=UTC))
    await run_jobs(uow_of(birthday_server), "birthdays", utcnow(), program_of(birthday_server))
    await run_jobs(uow_of(birthday_server), "birthdays", utcnow(), program_of(birthday_server))

    wishes = await outbox(customer, "customer.birthday")
    assert [(w["year"], w["points"]) for w in wishes] == [(2031, 100)]
    assert (await points(birthday_server, customer))["available"] == 100
    await assert_balance_is_the_sum_of_entries(birthday_server, customer)

    # And again the next year.
    moved_clock.move_to(datetime(2032, 6, 15, 8, 0, tzinfo=UTC))
    await run_jobs(uow_of(birthday_server), "birthdays", utcnow(), program_of(birthday_server))
    assert [w["year"] for w in await outbox(customer, "customer.birthday")] == [2031, 2032]
    assert (await points(birthday_server, customer))["available"] == 200


def test_february_29_birthdays_fall_on_february_28_in_other_years():
    assert birthdays_on(datetime(2031, 2, 28, tzinfo=UTC)) == ["02-28", "02-29"]
    assert birthdays_on(datetime(2032, 2, 28, tzinfo=UTC)) == ["02-28"]
    assert birthdays_on(datetime(2032, 2, 29, tzinfo=UTC)) == ["02-29"]
