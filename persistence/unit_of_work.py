"""The unit of work: the one way use cases reach the database.

It owns the connections (`persistence.connections`), the transactions, and the retries of
guarded writes, on both databases. A use case receives it and asks for one of three
things, in domain terms; the database and the connection mode are its business:

- `transaction()`: the work is one transaction; customers read for change are locked
  (PostgreSQL: `FOR UPDATE`; SQLite serialises its writers, `SqliteDatabase`).
- `guarded(work)`: the work's one write is guarded by what it read of the customer (the
  write happens only if the customer's order count, lifetime points, spend and tier are
  still as read). On PostgreSQL it first runs without a transaction or a lock, and runs
  again when the guard refused the write; anything that needs the lock (reading limits
  and budgets, a second write) makes it run under the lock instead, as does a third try.
  Measured: no transaction around the common order is a tenth of its CPU.
- `reading()`: reads, each statement on its own.

Inside, repositories are the session's members (`session.customers`, `session.orders`,
...), and they speak domain types. A session remembers the database ids of the rows it
read (its identity map), so use cases never handle them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from persistence import connections
from persistence.connections import AlreadyStored, ConstraintViolated
from persistence.session import NeedsLock, Session, Stale

__all__ = ["AlreadyStored", "ConstraintViolated", "Session", "UnitOfWork"]

T = TypeVar("T")

# Without the customer's lock, a write whose facts went stale is refused by its guard and
# tried again; after this many, or when the work needs the lock, the lock is taken.
UNLOCKED_TRIES = 2


class UnitOfWork:
    def __init__(self, database: connections.PostgresDatabase | connections.SqliteDatabase):
        self.database = database

    @classmethod
    async def open(cls, url: str, workers: int = 1) -> UnitOfWork:
        """`workers`: the processes sharing the database, among which its connections are
        shared out (see connections.sized_url)."""
        return cls(await connections.open_database(await connections.sized_url(url, workers)))

    async def close(self) -> None:
        await self.database.close()

    @property
    def guards_writes(self) -> bool:
        """PostgreSQL writes an order in one guarded statement; SQLite serialises instead."""
        return self.database.dialect == "postgres"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self.database.transaction() as conn:
            yield Session(conn, mode="locked")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Session]:
        async with self.database.connection() as conn:
            yield Session(conn, mode="read")

    async def guarded(self, work: Callable[[Session], Awaitable[T]]) -> T:
        if self.guards_writes:
            for _ in range(UNLOCKED_TRIES):
                try:
                    async with self.database.connection() as conn:
                        return await work(Session(conn, mode="unlocked"))
                except Stale:
                    continue
                except NeedsLock:
                    break
        async with self.transaction() as session:
            return await work(session)

