"""Hand-written SQL, spoken on persistence's own connections (persistence.connections).

Measured on PostgreSQL: each ORM query cost about 0.5 ms of CPU to build (pypika), five
to ten times its raw cost, and recordOrder needs six; so nothing at runtime goes through
Tortoise's query layer. Statements are written once, with named parameters
(persistence.statements, run by `fetch_named`/`execute_named`), or with `$n` placeholders
for the few built on the fly; SQLite gets `$n` as `?n`. Values are plain Python objects.

A statement runs on the connection of the transaction (or connection scope) the task is
in, and otherwise on a connection of its own for just that statement.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from persistence.connections import (
    Connection,
    Database,
    IntegrityError,
    PgConnection,
    PostgresDatabase,
    current_database,
)
from persistence.statements import Statement

__all__ = [
    "IntegrityError",
    "LeanScope",
    "after_commit",
    "copy_in",
    "copy_out",
    "execute",
    "execute_named",
    "fetch",
    "fetch_rows",
    "fetch_named",
    "fetch_rows_named",
    "lean_connection",
    "lean_transaction",
    "load_csv",
    "load_rows",
    "transaction",
]

_CURRENT: ContextVar[Connection | None] = ContextVar("loyalty_connection", default=None)
# What to call once the outermost scope's writes are committed (see `after_commit`).
_AFTER: ContextVar[list[Callable[[], None]] | None] = ContextVar("loyalty_after_commit", default=None)


def after_commit(callback: Callable[[], None]) -> None:
    """Calls `callback` once what the task has written so far is committed: at the end of
    the outermost transaction (not if it rolls back), at the end of a lean connection's
    scope (whose statements commit on their own), or now outside both. For wake-ups, which
    must not reach a reader before the rows do: one for a rolled-back savepoint is
    spurious, and one missed (a lean scope that ends in an error after writing) is left
    to the readers' poll, as wake-ups may be."""
    pending = _AFTER.get()
    if pending is None:
        callback()
    elif callback not in pending:
        pending.append(callback)


def _run(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        callback()


@asynccontextmanager
async def bound(database: Database) -> AsyncIterator[None]:
    """Statements of this block go to `database` (the unit of work's), not the task's."""
    token = database.bind()
    try:
        yield
    finally:
        database.unbind(token)


def guarded_writes() -> bool:
    """Whether writes may go without the customer's lock, guarded instead (PostgreSQL)."""
    return on_postgres()


def on_postgres() -> bool:
    conn = _CURRENT.get()
    return (conn if conn is not None else current_database()).dialect == "postgres"


def connections_at_most() -> int:
    """How many connections the task's database opens at once (SQLite: its one)."""
    database = current_database()
    return database.max_size() if isinstance(database, PostgresDatabase) else 1


def in_transaction() -> bool:
    """Whether the task is inside a transaction (or connection scope) opened here."""
    return _CURRENT.get() is not None


@asynccontextmanager
async def lean_connection() -> AsyncIterator[None]:
    """One pooled connection for a few statements that each commit on their own
    (PostgreSQL: a pool round trip saved per statement). On SQLite, whose one connection
    is shared by every task, each statement takes it in turn instead."""
    async with LeanScope(current_database()):
        yield


class LeanScope:
    """`lean_connection()` on a given database, which the block's statements go to (as
    `bound` binds it): the unit of work's scope for reads and guarded writes. A class, not
    nested generator-based context managers, because every order and read opens one:
    those cost a few microseconds each on entry and exit, measured."""

    __slots__ = ("_after", "_bound", "_current", "_database", "_raw", "_value")

    def __init__(self, database: Database, value: Any = None):
        """`value` is what `async with` gives (the unit of work's reading session)."""
        self._database = database
        self._value = value
        self._raw: Any = None

    async def __aenter__(self) -> Any:
        database = self._database
        self._bound = database.bind()
        if _CURRENT.get() is not None or not isinstance(database, PostgresDatabase):
            return self._value
        try:
            self._raw = await database.acquire()
        except BaseException:
            database.unbind(self._bound)
            raise
        self._current, self._after = _CURRENT.set(PgConnection(self._raw)), _AFTER.set([])
        return self._value

    async def __aexit__(self, *exc: object) -> None:
        database, raw = self._database, self._raw
        try:
            if raw is None:
                return
            pending = _AFTER.get()
            _CURRENT.reset(self._current)
            _AFTER.reset(self._after)
            self._raw = None
            assert isinstance(database, PostgresDatabase)
            await database.release(raw)
            if pending and exc[0] is None:  # as at the end of a transaction: only what went through
                _run(pending)
        finally:
            database.unbind(self._bound)


@asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """One transaction for everything the task runs inside; nested, a savepoint (an inner
    failure undoes the inner part, the outer goes on)."""
    conn = _CURRENT.get()
    if conn is not None:
        async with conn.transaction():
            yield
        return
    async with current_database().transaction() as conn:
        token, after = _CURRENT.set(conn), _AFTER.set([])
        pending = _AFTER.get()
        try:
            yield
        finally:
            _CURRENT.reset(token)
            _AFTER.reset(after)
    assert pending is not None
    _run(pending)  # reached only when the transaction committed


# The name the order path has always used.
lean_transaction = transaction


async def fetch(sql: str, *values: Any) -> list[dict]:
    conn = _CURRENT.get()
    if conn is not None:
        return await conn.fetch(sql, *values)
    async with current_database().connection() as own:
        return await own.fetch(sql, *values)


async def fetch_rows(sql: str, *values: Any) -> Sequence[Mapping[str, Any]]:
    """As `fetch`, the rows as the driver gives them (by column name or position)."""
    conn = _CURRENT.get()
    if conn is not None:
        return await conn.fetch_rows(sql, *values)
    async with current_database().connection() as own:
        return await own.fetch_rows(sql, *values)


async def execute(sql: str, *values: Any) -> None:
    conn = _CURRENT.get()
    if conn is not None:
        await conn.execute(sql, *values)
        return
    async with current_database().connection() as own:
        await own.execute(sql, *values)


async def fetch_named(statement: Statement, params: Mapping[str, Any]) -> list[dict]:
    return await fetch(statement.text, *statement.values(params))


async def fetch_rows_named(statement: Statement, params: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    return await fetch_rows(statement.text, *statement.values(params))


async def execute_named(statement: Statement, params: Mapping[str, Any]) -> None:
    await execute(statement.text, *statement.values(params))


async def load_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Rows into a table at once: PostgreSQL's binary COPY, SQLite's executemany."""
    if not rows:
        return
    conn = _CURRENT.get()
    if conn is not None:
        await conn.copy_rows(table, columns, rows)
        return
    async with current_database().connection() as own:
        await own.copy_rows(table, columns, rows)


async def load_csv(table: str, columns: Sequence[str], source: AsyncIterable[bytes]) -> int:
    """A CSV file into a table by PostgreSQL's COPY (the caller checks on_postgres());
    returns the number of records. Runs on the task's connection: call inside one."""
    conn = _CURRENT.get()
    assert isinstance(conn, PgConnection), "COPY of CSV text needs a PostgreSQL connection"
    return await conn.copy_csv(table, columns, source)


async def copy_out(query: str, sink: Callable[[bytes], Awaitable[None]]) -> None:
    """A query's rows as binary COPY data to `sink`, on the task's PostgreSQL connection."""
    conn = _CURRENT.get()
    assert isinstance(conn, PgConnection), "binary COPY needs a PostgreSQL connection"
    await conn.copy_out(query, sink)


async def copy_in(table: str, source: AsyncIterable[bytes]) -> None:
    """Binary COPY data (copy_out's) into a table, on the task's PostgreSQL connection."""
    conn = _CURRENT.get()
    assert isinstance(conn, PgConnection), "binary COPY needs a PostgreSQL connection"
    await conn.copy_in(table, source)


def as_utc(moment: datetime) -> datetime:
    """A time as it comes back from either database (Tortoise's use_tz, in UTC); a naive
    time is taken to be UTC, as Tortoise takes it."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def values_rows(rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """`($1, $2), ($3, $4)` and the flattened values, for one multi-row INSERT."""
    groups: list[str] = []
    flat: list[Any] = []
    for row in rows:
        start = len(flat)
        groups.append("(" + ", ".join(f"${start + i + 1}" for i in range(len(row))) + ")")
        flat.extend(row)
    return ", ".join(groups), flat
