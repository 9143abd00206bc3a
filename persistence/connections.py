"""The drivers under persistence: asyncpg for PostgreSQL, aiosqlite for SQLite.

Persistence opens its own connections with each driver's public API, from the same URL
Tortoise reads (Tortoise parses it: `expand_db_url`), and uses Tortoise for the models and
the migrations only. Tortoise offers no public way to reach the asyncpg pool or the
transaction's connection under it, and going through its query wrappers and transaction
context cost about a quarter of recordOrder's CPU (measured with py-spy: the per-query
wrappers a sixth, its transaction context a tenth, its connection look-up a twentieth).

Statements reach a connection as `$n` text (persistence.statements compiles named
parameters to it); SQLite gets them as `?NNN`, its numbered parameters, so a value may be
used twice or out of order on both.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import sqlite3
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar, Token
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import aiosqlite
import asyncpg
from tortoise.backends.base.config_generator import expand_db_url


class MalformedCsv(Exception):
    """COPY could not read a file as CSV (ragged rows, a stray quote, bytes not UTF-8)."""


class IntegrityError(Exception):
    """The database refused a statement by one of its constraints or triggers (a unique
    key, a foreign key, the ledger's append-only trigger): nothing of the statement, nor of
    the transaction it ran in, was written."""


log = logging.getLogger("loyalty.database")

# The process's PostgreSQL pools, for /metrics and readiness (persistence.pool_use).
# asyncpg pools take no weak references; closed ones are dropped when read.
open_pools: set[asyncpg.Pool] = set()


# ---- PostgreSQL ---------------------------------------------------------------------------


@contextmanager
def _pg_errors() -> Iterator[None]:
    try:
        yield
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.RaiseError) as error:
        raise IntegrityError(str(error)) from error


class PgConnection:
    dialect = "postgres"

    def __init__(self, raw: asyncpg.Connection):
        self.raw = raw

    # The two statements every order runs: the driver's errors are caught here, not by
    # `_pg_errors()`, a generator-based context manager per statement.
    async def fetch(self, sql: str, *values: Any) -> list[dict]:
        try:
            rows = await self.raw.fetch(sql, *values)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.RaiseError) as error:
            raise IntegrityError(str(error)) from error
        return [dict(row) for row in rows]

    async def fetch_rows(self, sql: str, *values: Any) -> Sequence[Mapping[str, Any]]:
        """Rows as the driver gives them (read by column name or position), without a dict
        built for each: for reads whose rows are turned into something else at once."""
        with _pg_errors():
            return await self.raw.fetch(sql, *values)  # type: ignore[no-any-return]

    async def execute(self, sql: str, *values: Any) -> None:
        try:
            await self.raw.execute(sql, *values)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.RaiseError) as error:
            raise IntegrityError(str(error)) from error

    async def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL's binary COPY: the fastest way in for many rows."""
        with _pg_errors():
            await self.raw.copy_records_to_table(table, records=rows, columns=list(columns))

    async def copy_csv(self, table: str, columns: Sequence[str], source: AsyncIterable[bytes]) -> int:
        """A CSV file's bytes (header line first) parsed by the server into `table`; how
        many records it held."""
        try:
            status = await self.raw.copy_to_table(
                table, source=source, columns=list(columns), format="csv", header=True, encoding="utf8"
            )
        except asyncpg.DataError as error:
            raise MalformedCsv(str(error)) from error
        return int(status.rsplit(" ", 1)[1])

    async def copy_out(self, query: str, sink: Callable[[bytes], Awaitable[None]]) -> None:
        """The rows of `query` in PostgreSQL's binary COPY format, chunk by chunk, to `sink`."""
        await self.raw.copy_from_query(query, output=sink, format="binary")

    async def copy_in(self, table: str, source: AsyncIterable[bytes]) -> None:
        """Binary COPY data, as copy_out gives it, into `table`."""
        await self.raw.copy_to_table(table, source=source, format="binary")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        # asyncpg nests a transaction as a savepoint: an inner failure undoes the inner part only.
        async with self.raw.transaction():
            yield


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Returning a connection to the pool skips asyncpg's reset query (CLOSE ALL, UNLISTEN,
    RESET ALL, advisory unlocks): a round trip on every release, a fourteenth of
    recordOrder's CPU, measured, for session state that nothing here creates (no SET,
    LISTEN, cursors or session advisory locks; keep it so). An open transaction is still
    rolled back, by the pool itself, before this runs."""


class _Binding:
    """`with database:` makes it the one the task's statements go to, until the block
    ends (sequential use: the CLI, tests); `bind()`/`unbind(token)` for code that binds
    the same database in many tasks at once (every request)."""

    _tokens: list[Token[Database | None]]

    def bind(self) -> Token[Database | None]:
        return _bound.set(self)  # type: ignore[arg-type]

    def unbind(self, token: Token[Database | None]) -> None:
        _bound.reset(token)

    def __enter__(self) -> Database:
        self._tokens.append(self.bind())
        return self  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.unbind(self._tokens.pop())


CLOSE_SECONDS = 10.0
"""The most closing a pool waits for its connections to be given back (at shutdown)."""


class PostgresDatabase(_Binding):
    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool
        self._tokens = []

    @classmethod
    async def open(cls, url: str, *, min_size: int, max_size: int) -> PostgresDatabase:
        credentials = dict(expand_db_url(url)["credentials"])
        credentials.pop("minsize", None)
        credentials.pop("maxsize", None)
        # The rest (host, port, user, password, database, and any option the URL names, such
        # as ssl) are asyncpg's own connection arguments.
        pool = await asyncpg.create_pool(min_size=min_size, max_size=max_size, reset=_keep_session, **credentials)
        open_pools.add(pool)
        return cls(pool)

    def max_size(self) -> int:
        """How many connections the pool opens at most."""
        return self.pool.get_max_size()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PgConnection]:
        async with self.pool.acquire() as raw:
            yield PgConnection(raw)

    async def acquire(self) -> asyncpg.Connection:
        """A pooled connection, for `release` to give back (persistence.sql.LeanScope)."""
        return await self.pool.acquire()

    async def release(self, raw: asyncpg.Connection) -> None:
        await self.pool.release(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        async with self.pool.acquire() as raw, raw.transaction():
            yield PgConnection(raw)

    async def close(self) -> None:
        open_pools.discard(self.pool)
        try:
            # Pool.close waits for every connection to be given back, for ever; one still
            # held by a task that did not stop would hold the process. Cancelled by the
            # timeout, Pool.close terminates the pool (asyncpg's documented behaviour).
            await asyncio.wait_for(self.pool.close(), CLOSE_SECONDS)
        except TimeoutError:
            log.error("connections still in use %s s into closing the pool: closed under them", CLOSE_SECONDS)


# ---- SQLite -------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=512)
def sqlite_text(sql: str) -> str:
    """`$n` as `?n`, SQLite's numbered parameter; PostgreSQL's casts (`::jsonb`) dropped
    where SQLite has no such type is the statement's own business."""
    return _PLACEHOLDER.sub(r"?\1", sql)


def _sqlite_value(value: Any) -> Any:
    # As Tortoise's SQLite executor stores them, so rows written either way compare alike.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


@contextmanager
def _sqlite_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as error:
        raise IntegrityError(str(error)) from error


_savepoints = itertools.count(1)


class SqliteConnection:
    dialect = "sqlite"

    def __init__(self, raw: aiosqlite.Connection, database: SqliteDatabase):
        self.raw = raw
        self.database = database

    async def fetch(self, sql: str, *values: Any) -> list[dict]:
        with _sqlite_errors():
            rows = await self.raw.execute_fetchall(sqlite_text(sql), [_sqlite_value(v) for v in values])
        return [dict(row) for row in rows]

    async def fetch_rows(self, sql: str, *values: Any) -> Sequence[Mapping[str, Any]]:
        return await self.fetch(sql, *values)

    async def execute(self, sql: str, *values: Any) -> None:
        with _sqlite_errors():
            await (await self.raw.execute(sqlite_text(sql), [_sqlite_value(v) for v in values])).close()

    async def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        with _sqlite_errors():
            await self.raw.executemany(statement, [[_sqlite_value(v) for v in row] for row in rows])

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """The connection's transaction, or a savepoint inside one already open."""
        if not self.raw.in_transaction:
            await self.raw.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.raw.rollback()
                raise
            await self.raw.commit()
            return
        name = f"sp_{next(_savepoints)}"
        await self.raw.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self.raw.execute(f"ROLLBACK TO {name}")
            await self.raw.execute(f"RELEASE {name}")
            raise
        await self.raw.execute(f"RELEASE {name}")


class SqliteDatabase(_Binding):
    """One connection; a lock gives it to one task at a time, so SQLite's writers queue
    here (it has no row locks) and a transaction never sees another task's statements."""

    dialect = "sqlite"

    def __init__(self, raw: aiosqlite.Connection):
        self.raw = raw
        self.lock = asyncio.Lock()
        self._tokens = []

    @classmethod
    async def open(cls, url: str) -> SqliteDatabase:
        path = expand_db_url(url)["credentials"]["file_path"]
        raw = await aiosqlite.connect(path, isolation_level=None)
        raw.row_factory = sqlite3.Row
        # Tortoise's own pragmas for SQLite, and a writer from another process (`loyalty
        # jobs run`, a second worker) waits for the file's lock rather than failing.
        for pragma in ("journal_mode=WAL", "journal_size_limit=16384", "foreign_keys=ON", "busy_timeout=10000"):
            await (await raw.execute(f"PRAGMA {pragma}")).close()
        return cls(raw)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[SqliteConnection]:
        async with self.lock:
            yield SqliteConnection(self.raw, self)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self.lock:
            connection = SqliteConnection(self.raw, self)
            async with connection.transaction():
                yield connection

    async def close(self) -> None:
        await self.raw.close()


Database = PostgresDatabase | SqliteDatabase
Connection = PgConnection | SqliteConnection


# ---- Which database a task uses -------------------------------------------------------------

# The database of the running task: the ASGI app binds its own for every request (tests run
# several apps in one process); code outside any binding (the CLI, jobs) gets the first
# database this process opened.
_bound: ContextVar[Database | None] = ContextVar("loyalty_database", default=None)
_first: list[Database] = []


def current_database() -> Database:
    database = _bound.get()
    if database is not None:
        return database
    if not _first:
        raise RuntimeError("No database is open in this process (persistence.database.open_database).")
    return _first[0]


def opened(database: Database) -> None:
    if not _first:
        _first.append(database)


def closed(database: Database) -> None:
    if database in _first:
        _first.remove(database)
