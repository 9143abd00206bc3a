"""Persistence's own connections, on the database of the run (SQLite, or PostgreSQL in
its pass): one statement text for both, transactions and savepoints, constraint errors,
and which database a task's statements go to."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from persistence import sql
from persistence.connections import IntegrityError, sqlite_text
from persistence.database import close_database, open_database
from persistence.unit_of_work import NeedsLock, UnitOfWork


def test_sqlite_gets_numbered_parameters_so_a_value_may_repeat_or_come_out_of_order():
    assert sqlite_text("SELECT $2, $1, $2::int, $10") == "SELECT ?2, ?1, ?2::int, ?10"


@pytest.fixture
async def db(database_url: str):
    database = await open_database(database_url)
    try:
        with database:
            await sql.execute("CREATE TABLE IF NOT EXISTS conn_probe (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)")
            yield database
    finally:
        await close_database(database)


def key() -> str:
    return uuid.uuid4().hex


async def value_of(k: str) -> int | None:
    rows = await sql.fetch("SELECT v FROM conn_probe WHERE k = $1", k)
    return rows[0]["v"] if rows else None


async def test_a_value_used_twice_and_out_of_order_binds_alike_on_both_databases(db):
    k = key()
    await sql.execute("INSERT INTO conn_probe (k, v) VALUES ($2, CAST($1 AS INTEGER) + CAST($1 AS INTEGER))", 21, k)
    assert await value_of(k) == 42


async def test_a_failed_transaction_writes_nothing(db):
    k = key()
    with pytest.raises(RuntimeError):
        async with sql.transaction():
            await sql.execute("INSERT INTO conn_probe (k, v) VALUES ($1, 1)", k)
            raise RuntimeError("the use case failed after its first write")
    assert await value_of(k) is None


async def test_a_unique_key_refusal_is_an_integrity_error_and_a_savepoint_keeps_the_rest(db):
    k, other = key(), key()
    async with sql.transaction():
        await sql.execute("INSERT INTO conn_probe (k, v) VALUES ($1, 1)", k)
        with pytest.raises(IntegrityError):
            async with sql.transaction():  # nested: a savepoint
                await sql.execute("INSERT INTO conn_probe (k, v) VALUES ($1, 2)", k)
        # PostgreSQL would refuse every statement here had the failure aborted the transaction.
        await sql.execute("INSERT INTO conn_probe (k, v) VALUES ($1, 3)", other)
    assert (await value_of(k), await value_of(other)) == (1, 3)


async def test_concurrent_transactions_each_see_their_own_writes_and_all_commit(db):
    keys = [key() for _ in range(20)]

    async def write(k: str) -> None:
        async with sql.transaction():
            await sql.execute("INSERT INTO conn_probe (k, v) VALUES ($1, 0)", k)
            await sql.execute("UPDATE conn_probe SET v = v + 1 WHERE k = $1", k)
            assert await value_of(k) == 1

    await asyncio.gather(*(write(k) for k in keys))
    assert [await value_of(k) for k in keys] == [1] * 20


async def test_the_unit_of_work_retries_a_refused_guarded_write_and_takes_the_lock_when_asked(db):
    uow = UnitOfWork(db)
    modes: list[str] = []

    async def refused_once(session):
        modes.append(session.mode)
        # Without the lock a guard may refuse; under it, never.
        return None if len(modes) == 1 and not session.locked else "written"

    assert await uow.guarded(refused_once) == "written"
    expected = ["unlocked", "unlocked"] if uow.guards_writes else ["locked"]
    assert modes == expected

    modes.clear()

    async def needs_the_lock(session):
        modes.append(session.mode)
        session.needs_lock()
        return "written"

    assert await uow.guarded(needs_the_lock) == "written"
    assert modes == (["unlocked", "locked"] if uow.guards_writes else ["locked"])
    with pytest.raises(NeedsLock):
        async with uow.reading() as session:
            session.needs_lock()
