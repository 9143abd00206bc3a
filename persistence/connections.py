"""The drivers under the unit of work: asyncpg for PostgreSQL, aiosqlite for SQLite.

Persistence opens its own connections with each driver's public API, from the same URL
Tortoise reads (Tortoise parses it: `expand_db_url`), and uses Tortoise for the models
and the migrations only. Tortoise offers no public way to reach the asyncpg pool or the
transaction's connection under it, and going through its query wrappers and transaction
context cost about a quarter of recordOrder's CPU (measured with py-spy: the per-query
wrappers a sixth, its transaction context a tenth, its connection look-up a twentieth).
Each worker's pool is sized against the server's max_connections and the worker count
(`sized_url`), or as the URL's `minsize`/`maxsize` say. See bench/README.md for the figures.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import aiosqlite
import asyncpg
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import DBConnectionError

from persistence.statements import Statement

# asyncpg's pool defaults to 5 connections, which queued 16 concurrent writers (measured
# in bench/): each worker's pool holds up to MAX_POOL, fewer when the server's
# max_connections, shared by all workers, cannot give every worker that many (see
# pool_size). A URL that names maxsize keeps its own.
MAX_POOL = 20
# Connections left for everything but the service's workers: `loyalty migrate`, `loyalty
# jobs run`, an operator's psql, monitoring.
RESERVED_CONNECTIONS = 10

log = logging.getLogger("loyalty.database")


def pool_size(max_connections: int, superuser_reserved: int, workers: int) -> int:
    """Connections per worker's pool: an equal share of what PostgreSQL allows once its
    superuser slots and RESERVED_CONNECTIONS are set aside, at most MAX_POOL, at least 1."""
    share = (max_connections - superuser_reserved - RESERVED_CONNECTIONS) // max(1, workers)
    return max(1, min(MAX_POOL, share))


async def sized_url(database_url: str, workers: int) -> str:
    """A PostgreSQL URL with its pool sized against the server's max_connections (asked
    of the server) and the worker count; other URLs, and those naming maxsize, as given."""
    if not database_url.startswith(("postgres://", "asyncpg://")) or "maxsize=" in database_url:
        return database_url
    # asyncpg would send the URL's query (Tortoise's options) as server settings.
    dsn = "postgresql://" + database_url.split("://", 1)[1].split("?", 1)[0]
    conn = await asyncpg.connect(dsn)
    try:
        max_connections = int(await conn.fetchval("SHOW max_connections"))
        superuser_reserved = int(await conn.fetchval("SHOW superuser_reserved_connections"))
    finally:
        await conn.close()
    size = pool_size(max_connections, superuser_reserved, workers)
    log.info(
        "database pool: %d connections per worker (%d workers, max_connections %d, %d reserved for superusers, %d"
        " for other clients)",
        size,
        workers,
        max_connections,
        superuser_reserved,
        RESERVED_CONNECTIONS,
    )
    return database_url + ("&" if "?" in database_url else "?") + f"minsize={min(2, size)}&maxsize={size}"


# What a request meets when PostgreSQL refuses connections (max_connections reached, the
# server starting or shutting down) or cannot be reached at all.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    DBConnectionError,
    ConnectionError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether an error (or one it was raised from) says the database is out of reach."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UNAVAILABLE_ERRORS):
            return True
        seen = seen.__cause__
    return False


class ConstraintViolated(Exception):
    """The database refused a statement by one of its constraints or triggers (the ledger's
    append-only trigger, a foreign key...): the unit of work it ran in writes nothing."""


class AlreadyStored(ConstraintViolated):
    """A unique key refused a row: the thing was recorded before (a replay, or a
    concurrent twin that won the race). Nothing of the unit of work was written."""


class Connection(Protocol):
    """What repositories speak to: one connection, inside or outside a transaction."""

    dialect: str

    async def fetch(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[dict]: ...

    async def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> None: ...


class Database(Protocol):
    dialect: str

    def connection(self) -> Any:
        """An async context manager giving a Connection whose statements commit one by one."""

    def transaction(self) -> Any:
        """An async context manager giving a Connection inside one transaction."""

    async def close(self) -> None: ...


# ---- PostgreSQL ---------------------------------------------------------------------------


class PgConnection:
    dialect = "postgres"

    def __init__(self, raw: asyncpg.Connection):
        self.raw = raw

    async def fetch(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[dict]:
        values = statement.postgres_values(params or {})
        with _pg_errors():
            return [dict(row) for row in await self.raw.fetch(statement.postgres, *values)]

    async def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> None:
        values = statement.postgres_values(params or {})
        with _pg_errors():
            await self.raw.execute(statement.postgres, *values)


@contextmanager
def _pg_errors() -> Iterator[None]:
    try:
        yield
    except asyncpg.UniqueViolationError as error:
        raise AlreadyStored(str(error)) from error
    except asyncpg.IntegrityConstraintViolationError as error:
        raise ConstraintViolated(str(error)) from error


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Returning a connection to the pool skips asyncpg's reset query (CLOSE ALL, UNLISTEN,
    RESET ALL, advisory unlocks): a round trip on every release, a fourteenth of
    recordOrder's CPU, measured, for session state that nothing here creates (no SET,
    LISTEN, cursors or session advisory locks; keep it so). An open transaction is still
    rolled back, by the pool itself, before this runs."""


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        credentials = dict(expand_db_url(url)["credentials"])
        min_size = int(credentials.pop("minsize", 2))
        max_size = int(credentials.pop("maxsize", MAX_POOL))
        # The rest (host, port, user, password, database, and any option the URL names, such
        # as ssl) are asyncpg's own connection arguments.
        pool = await asyncpg.create_pool(min_size=min_size, max_size=max_size, reset=_keep_session, **credentials)
        return cls(pool)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PgConnection]:
        async with self.pool.acquire() as raw:
            yield PgConnection(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        async with self.pool.acquire() as raw, raw.transaction():
            yield PgConnection(raw)

    async def close(self) -> None:
        await self.pool.close()


# ---- SQLite -------------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    # As Tortoise's SQLite executor stores them, so rows written either way compare alike.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


class SqliteConnection:
    dialect = "sqlite"

    def __init__(self, raw: aiosqlite.Connection):
        self.raw = raw

    async def fetch(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[dict]:
        values = [_sqlite_value(v) for v in statement.sqlite_values(params or {})]
        with _sqlite_errors():
            return [dict(row) for row in await self.raw.execute_fetchall(statement.sqlite, values)]

    async def execute(self, statement: Statement, params: Mapping[str, Any] | None = None) -> None:
        values = [_sqlite_value(v) for v in statement.sqlite_values(params or {})]
        with _sqlite_errors():
            await (await self.raw.execute(statement.sqlite, values)).close()


@contextmanager
def _sqlite_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as error:
        if "UNIQUE" in str(error):
            raise AlreadyStored(str(error)) from error
        raise ConstraintViolated(str(error)) from error


class SqliteDatabase:
    """One connection; a lock serialises its users, so SQLite's writers queue here (it
    has no row locks) and a transaction never sees another's statements."""

    dialect = "sqlite"

    def __init__(self, raw: aiosqlite.Connection):
        self.raw = raw
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> SqliteDatabase:
        path = expand_db_url(url)["credentials"]["file_path"]
        raw = await aiosqlite.connect(path, isolation_level=None)
        raw.row_factory = sqlite3.Row
        # Tortoise's own pragmas for SQLite.
        for pragma in ("journal_mode=WAL", "journal_size_limit=16384", "foreign_keys=ON"):
            await (await raw.execute(f"PRAGMA {pragma}")).close()
        return cls(raw)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[SqliteConnection]:
        async with self.lock:
            yield SqliteConnection(self.raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self.lock:
            await self.raw.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteConnection(self.raw)
            except BaseException:
                await self.raw.rollback()
                raise
            await self.raw.commit()

    async def close(self) -> None:
        await self.raw.close()


async def open_database(url: str) -> PostgresDatabase | SqliteDatabase:
    if url.startswith(("postgres://", "asyncpg://", "postgresql://")):
        return await PostgresDatabase.open(url)
    return await SqliteDatabase.open(url)
