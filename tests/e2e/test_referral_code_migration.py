"""The migration that makes referral_code each customer's own code: customers enrolled
before it (whose column held whatever code they typed in, duplicates included) each get a
code of their own before the column becomes unique."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

from persistence.database import migrate, tortoise_config
from tests.conftest import POSTGRES_URL, TEST_DATABASE

BEFORE = "models.0009_reward_event_delivery"
OLD_CUSTOMERS = [(f"old-{n}", "FRIENDS10" if n < 3 else None) for n in range(4)]
INSERT = (
    "INSERT INTO customers (external_id, email, tags, referral_code, points_available, points_pending,"
    " lifetime_earned, lifetime_spend, order_count, enrolled_at)"
    " VALUES ($1, 'old@example.com', '[]', $2, 0, 0, 0, 0, 0, CURRENT_TIMESTAMP)"
)


async def migrate_to(url: str, target: str) -> None:
    async with TortoiseContext():
        await tortoise_migrate(config=tortoise_config(url), target=target)


@pytest.fixture
def postgres_scratch() -> Iterator[tuple[str, str]]:
    """(Tortoise url, asyncpg url) of an empty database beside the test one, dropped after."""
    if TEST_DATABASE != "postgres":
        pytest.skip("the PostgreSQL run covers PostgreSQL")
    assert POSTGRES_URL
    admin = POSTGRES_URL.replace("postgres://", "postgresql://", 1)
    base, _, name = admin.rpartition("/")
    scratch = f"{name.split('?')[0]}_codes"

    async def admin_run(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin_run(f'DROP DATABASE IF EXISTS "{scratch}"'))
    asyncio.run(admin_run(f'CREATE DATABASE "{scratch}"'))
    try:
        yield f"{base}/{scratch}".replace("postgresql://", "postgres://", 1), f"{base}/{scratch}"
    finally:
        asyncio.run(admin_run(f'DROP DATABASE IF EXISTS "{scratch}"'))


def assert_own_codes(codes: list[str | None]) -> None:
    assert len(codes) == len(OLD_CUSTOMERS) and len(set(codes)) == len(codes)
    assert all(code and re.fullmatch(r"[0-9A-F]{10}", code) for code in codes), codes


async def test_customers_enrolled_before_get_codes_of_their_own_on_sqlite(tmp_path: Path):
    url = f"sqlite://{tmp_path / 'codes.db'}"
    await migrate_to(url, BEFORE)
    with sqlite3.connect(tmp_path / "codes.db") as db:
        db.executemany(INSERT.replace("$1", "?").replace("$2", "?"), OLD_CUSTOMERS)

    await migrate(url)

    with sqlite3.connect(tmp_path / "codes.db") as db:
        assert_own_codes([row[0] for row in db.execute("SELECT referral_code FROM customers")])


async def test_customers_enrolled_before_get_codes_of_their_own_on_postgres(postgres_scratch):
    url, raw_url = postgres_scratch
    await migrate_to(url, BEFORE)
    conn = await asyncpg.connect(raw_url)
    try:
        await conn.executemany(INSERT, OLD_CUSTOMERS)
        await migrate(url)
        assert_own_codes([row["referral_code"] for row in await conn.fetch("SELECT referral_code FROM customers")])
    finally:
        await conn.close()
