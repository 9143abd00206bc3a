"""A database that was never migrated is named as such, with what to do: `loyalty migrate`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from api.cli import main
from app.bootstrap import running_services
from persistence.database import DatabaseNotMigrated, pending_migrations
from tests.conftest import POSTGRES_URL, TEST_DATABASE, make_settings

on_postgres = pytest.mark.skipif(TEST_DATABASE != "postgres", reason="SQLite migrates itself on start")


def _admin_url() -> str:
    assert POSTGRES_URL
    return POSTGRES_URL.replace("postgres://", "postgresql://", 1)


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(_admin_url())
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture
def never_migrated() -> Iterator[str]:
    """An empty database beside the test one (its name suffixed), dropped afterwards."""
    assert POSTGRES_URL
    base, _, name = POSTGRES_URL.rpartition("/")
    fresh = f"{name.split('?')[0]}_unmigrated"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{fresh}"'))
    asyncio.run(_admin(f'CREATE DATABASE "{fresh}"'))
    try:
        yield f"{base}/{fresh}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{fresh}"'))


@on_postgres
async def test_the_service_will_not_start_on_a_database_never_migrated(never_migrated):
    with pytest.raises(DatabaseNotMigrated, match="run `loyalty migrate`"):
        async with running_services(make_settings(never_migrated)):
            pass


@on_postgres
def test_loyalty_serve_on_a_database_never_migrated_says_to_migrate(never_migrated, monkeypatch, capsys):
    monkeypatch.setenv("LOYALTY_DATABASE_URL", never_migrated)

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


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["migrate", "--check"]])
def test_a_server_that_cannot_be_reached_is_named_as_such_not_as_unmigrated(command, monkeypatch, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    monkeypatch.setenv("LOYALTY_DATABASE_URL", f"postgres://postgres@127.0.0.1:{port}/nowhere")

    assert main(command) == 1

    error = capsys.readouterr().err
    assert "cannot be reached" in error and "LOYALTY_DATABASE_URL" in error
    assert "not migrated" not in error and "Traceback" not in error
