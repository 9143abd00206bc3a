"""The unit of work's own rules: when a guarded write runs again, and under what; and the
named parameters of statements, which both databases' texts are made from."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from persistence.session import NeedsLock, Session, Stale
from persistence.statements import RowsInsert, Statement, insert
from persistence.tables import LEDGER_ENTRIES, ORDERS
from persistence.unit_of_work import UNLOCKED_TRIES, UnitOfWork


class FakeDatabase:
    """Records which kind of connection each try ran on."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.opened: list[str] = []

    @asynccontextmanager
    async def connection(self):
        self.opened.append("connection")
        yield FakeConnection(self.dialect)

    @asynccontextmanager
    async def transaction(self):
        self.opened.append("transaction")
        yield FakeConnection(self.dialect)

    async def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self, dialect: str):
        self.dialect = dialect


def work_that(*outcomes: type[Exception] | None):
    """A unit of work's work that fails with these, in turn, then succeeds."""
    modes: list[str] = []

    async def work(session: Session) -> list[str]:
        modes.append(session.mode)
        outcome = outcomes[len(modes) - 1] if len(modes) <= len(outcomes) else None
        if outcome:
            raise outcome()
        return modes

    return work


async def test_a_guarded_write_runs_unlocked_when_nothing_interferes():
    database = FakeDatabase("postgres")
    assert await UnitOfWork(database).guarded(work_that()) == ["unlocked"]
    assert database.opened == ["connection"]


async def test_a_stale_guarded_write_runs_again_and_then_under_the_lock():
    database = FakeDatabase("postgres")
    modes = await UnitOfWork(database).guarded(work_that(*[Stale] * UNLOCKED_TRIES))
    assert modes == ["unlocked"] * UNLOCKED_TRIES + ["locked"]
    assert database.opened == ["connection"] * UNLOCKED_TRIES + ["transaction"]


async def test_work_that_needs_the_lock_goes_straight_to_it():
    database = FakeDatabase("postgres")
    assert await UnitOfWork(database).guarded(work_that(NeedsLock)) == ["unlocked", "locked"]


async def test_sqlite_runs_guarded_writes_in_its_serialised_transaction_at_once():
    database = FakeDatabase("sqlite")
    assert await UnitOfWork(database).guarded(work_that()) == ["locked"]
    assert database.opened == ["transaction"]


async def test_an_unlocked_session_writes_once_and_only_a_guarded_write():
    session = Session(FakeConnection("postgres"), mode="unlocked")
    with pytest.raises(NeedsLock):
        session.writing()
    session.writing(guarded=True)
    with pytest.raises(AssertionError):
        session.writing(guarded=True)


def test_a_named_parameter_is_one_postgresql_parameter_and_a_question_mark_per_use_on_sqlite():
    statement = Statement("UPDATE t SET a = a + :n, b = :tier::text WHERE id = :id AND c > :n")

    assert statement.postgres == "UPDATE t SET a = a + $1, b = $2::text WHERE id = $3 AND c > $1"
    assert statement.sqlite == "UPDATE t SET a = a + ?, b = ?::text WHERE id = ? AND c > ?"
    params = {"id": 7, "n": 2, "tier": "Gold"}
    assert statement.postgres_values(params) == [2, "Gold", 7]
    assert statement.sqlite_values(params) == [2, "Gold", 7, 2]


def test_insert_statements_take_their_columns_from_the_table_description():
    single = insert(ORDERS, ["external_id", "currency"], returning="id")
    assert single.postgres == "INSERT INTO orders (external_id, currency) VALUES ($1, $2) RETURNING id"

    rows = RowsInsert(LEDGER_ENTRIES, ("kind", "points"))
    assert rows.statement(2).sqlite == "INSERT INTO ledger_entries (kind, points) VALUES (?, ?), (?, ?)"
    assert rows.params([{"kind": "earn", "points": 1}, {"kind": "adjust", "points": -1}]) == {
        "kind_0": "earn", "points_0": 1, "kind_1": "adjust", "points_1": -1,
    }
    with pytest.raises(KeyError):
        insert(ORDERS, ["no_such_column"])
