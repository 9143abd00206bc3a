"""Fixtures the end-to-end tests share."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.clock import Clock, clock
from persistence.unit_of_work import UnitOfWork
from rules import Program, load_program
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server

PENDING_DAYS, EXPIRES_IN_DAYS = 14, 30


@pytest.fixture(scope="session", autouse=True)
async def models_for_checks(database_url: str) -> AsyncIterator[None]:
    """Tests check what the service wrote through Tortoise's models: a path to the rows
    other than the service's own SQL (which never uses the ORM at runtime)."""
    from tortoise import Tortoise

    from persistence.database import tortoise_config

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        yield
    finally:
        await Tortoise.close_connections()


GRACE_DAYS = 30


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


@pytest.fixture
def moved_clock() -> Iterator[Clock]:
    """The service's clock, put back to the real time after the test."""
    try:
        yield clock
    finally:
        clock.reset()


@pytest.fixture
async def review_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    """A second server on the same database whose tiers count points over a rolling year,
    reviewed on each anniversary with 30 days' grace."""
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "reviews.yaml").write_text(
        f"tier_qualification:\n  period: {{rolling_days: 365}}\n  review: anniversary\n  grace_days: {GRACE_DAYS}\n"
    )
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


def program_of(server: Server) -> Program:
    """The rules a test server runs, for jobs run by the test itself."""
    return load_program(server.settings.rules_dir)


def uow_of(server: Server) -> UnitOfWork:
    """The unit of work a test server's use cases run on, for jobs run by the test itself."""
    assert server.app is not None
    uow: UnitOfWork = server.app.state.services.uow
    return uow
