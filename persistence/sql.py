"""Hand-written SQL for the hot write path, on Tortoise's own transaction connection.

Measured on PostgreSQL: each ORM query cost about 0.5 ms of CPU to build (pypika), five
to ten times its raw cost, and recordOrder needs six. Statements here are written once
with `$n` placeholders and rewritten for SQLite; values are plain Python objects that
both drivers encode the way Tortoise does (sqlite3 adapters registered by Tortoise).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient as AsyncpgClient
from tortoise.backends.asyncpg.client import TransactionWrapper as AsyncpgTransaction
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import _get_connection, in_transaction

_PLACEHOLDER = re.compile(r"\$\d+")


@lru_cache(maxsize=256)
def _for_sqlite(sql: str) -> str:
    # `?NNN` is SQLite's numbered parameter: `$n` may be used any number of times, in any order.
    return _PLACEHOLDER.sub(lambda match: "?" + match.group()[1:], sql)


def connection() -> BaseDBAsyncClient:
    """The connection of the transaction in progress (or the pool outside one)."""
    return _get_connection(None)


def guarded_writes() -> bool:
    """Whether writes may go without the customer's lock, guarded instead (PostgreSQL)."""
    return on_postgres()


def on_postgres() -> bool:
    """Whether statements here go to PostgreSQL (the lean connection answers without
    asking Tortoise, whose connection look-up was a twentieth of recordOrder's CPU)."""
    return _LEAN.get() is not None or is_postgres(connection())


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _sql(conn: BaseDBAsyncClient, sql: str) -> str:
    return sql if is_postgres(conn) else _for_sqlite(sql)


_LEAN: ContextVar[asyncpg.Connection | None] = ContextVar("lean_transaction", default=None)


@asynccontextmanager
async def lean_connection() -> AsyncIterator[None]:
    """One pooled asyncpg connection for a few statements that each commit on their own
    (PostgreSQL only; elsewhere statements go the usual way). Same rule as below: nothing
    but this module's functions inside."""
    client = connection()
    pool = getattr(client, "_pool", None)
    if _LEAN.get() is not None or not isinstance(client, AsyncpgClient) or pool is None:
        yield
        return
    async with pool.acquire() as conn:
        token = _LEAN.set(conn)
        try:
            yield
        finally:
            _LEAN.reset(token)


def _raw_asyncpg(conn: BaseDBAsyncClient) -> asyncpg.Connection | None:
    """Inside a PostgreSQL transaction, its asyncpg connection: going to it directly
    skips Tortoise's per-query wrappers (locks, logging, exception translation), a
    sixth of recordOrder's CPU as measured by py-spy."""
    if isinstance(conn, AsyncpgTransaction):
        return conn._connection
    return None


@asynccontextmanager
async def lean_transaction() -> AsyncIterator[None]:
    """A transaction for code that speaks only through `fetch` and `execute` here.

    On PostgreSQL it is asyncpg's own, on a connection from Tortoise's pool: Tortoise's
    transaction context cost about a tenth of recordOrder's CPU. ORM queries would not
    see it, so nothing but this module's functions may run inside. Elsewhere (SQLite,
    or already inside a transaction) it is Tortoise's ordinary transaction.
    """
    client = connection()
    pool = getattr(client, "_pool", None)
    if _LEAN.get() is not None or not isinstance(client, AsyncpgClient) or pool is None:
        async with in_transaction():
            yield
        return
    async with pool.acquire() as conn, conn.transaction():
        token = _LEAN.set(conn)
        try:
            yield
        finally:
            _LEAN.reset(token)


async def fetch(sql: str, *values: Any) -> list[dict]:
    raw = _LEAN.get()
    if raw is None:
        conn = connection()
        raw = _raw_asyncpg(conn)
        if raw is None:
            return await conn.execute_query_dict(_sql(conn, sql), list(values))
    with _integrity_errors():
        return [dict(row) for row in await raw.fetch(sql, *values)]


async def execute(sql: str, *values: Any) -> None:
    raw = _LEAN.get()
    if raw is None:
        conn = connection()
        raw = _raw_asyncpg(conn)
        if raw is None:
            await conn.execute_query(_sql(conn, sql), list(values))
            return
    with _integrity_errors():
        await raw.execute(sql, *values)


async def load_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Rows into a table at once: PostgreSQL's COPY (binary, on the lean transaction's
    connection), elsewhere one prepared INSERT run for every row."""
    if not rows:
        return
    raw = _LEAN.get()
    if raw is not None:
        await raw.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    conn = connection()
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    if is_postgres(conn):
        raise RuntimeError("load_rows needs sql.lean_transaction() on PostgreSQL")
    await conn.execute_many(statement, [list(row) for row in rows])


@contextmanager
def _integrity_errors() -> Iterator[None]:
    """Constraint violations surface as Tortoise's IntegrityError, as they do elsewhere."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(error) from error


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
