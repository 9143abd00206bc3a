"""A database that was never migrated is named as such, with what to do: `loyalty migrate`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from api.cli import main
from app.bootstrap import running_services
from persistence.database import DatabaseNotMigrated, pending_migrations
from tests.conftest import POSTGRES_URL, TEST_DATABASE, make_settings

on_postgres = pytest.mark.skipif(TEST_DATABASE != "postgres", reason="SQLite migrates itself on start")


async def _fresh_postgres_database() -> str:
    """An empty database beside the test one (its name suffixed), created afresh."""
    assert POSTGRES_URL
    base, _, name = POSTGRES_URL.rpartition("/")
    fresh = f"{name.split('?')[0]}_unmigrated"
    conn = await asyncpg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
        await conn.execute(f'CREATE DATABASE "{fresh}"')
    finally:
        await conn.close()
    return f"{base}/{fresh}"


@on_postgres
async def test_the_service_will_not_start_on_a_database_never_migrated():
    url = await _fresh_postgres_database()
    with pytest.raises(DatabaseNotMigrated, match="run `loyalty migrate`"):
        async with running_services(make_settings(url)):
            pass


@on_postgres
def test_loyalty_serve_on_a_database_never_migrated_says_to_migrate(monkeypatch, capsys):
    url = asyncio.run(_fresh_postgres_database())
    monkeypatch.setenv("LOYALTY_DATABASE_URL", url)

    assert main(["serve"]) == 1

    error = capsys.readouterr().err
    assert "is not migrated" in error and "run `loyalty migrate`" in error
    assert "Traceback" not in error


def test_loyalty_migrate_check_tells_pending_from_done(monkeypatch, capsys, tmp_path: Path):
    monkeypatch.setenv("LOYALTY_DATABASE_URL", f"sqlite://{tmp_path / 'fresh.db'}")

    assert main(["migrate", "--check"]) == 1
    assert "pending: models.0001_initial" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert main(["migrate", "--check"]) == 0
    assert asyncio.run(pending_migrations(f"sqlite://{tmp_path / 'fresh.db'}")) == []
