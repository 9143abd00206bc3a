"""The unit of work: the one way use cases reach the database.

It owns the connections (`persistence.connections`), the transactions, and the retries of
guarded writes, on both databases. A use case receives it and asks for one of three
things; which connection, and whether a transaction is open around it, is its business:

- `transaction()`: the work is one transaction; customers read for change are locked
  (PostgreSQL: `FOR UPDATE`; SQLite serialises its writers, see SqliteDatabase).
- `guarded(work)`: the work's one write is guarded by what it read of the customer (the
  write happens only if the customer is still as read). On PostgreSQL it first runs
  without a transaction or a lock, and again when the guard refused the write; work that
  needs the lock (reading limits and budgets, a second write) raises NeedsLock and runs
  under the lock instead, as does a third try. Measured: no transaction around the common
  order is a tenth of its CPU.
- `reading()`: reads, each statement committed on its own, on one connection.

Inside, repositories are the session's members (`session.customers`, `session.orders`,
...), and they speak domain types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from persistence import sql
from persistence.connections import Database, current_database
from persistence.session import NeedsLock, Session

__all__ = ["NeedsLock", "Session", "UnitOfWork"]

T = TypeVar("T")

# Without the customer's lock, a write whose facts went stale is refused by its guard and
# tried again; after this many, or when the work needs the lock, the lock is taken.
UNLOCKED_TRIES = 2

# A reading session holds no state of its own (its repositories are modules): one serves all.
_READING = Session(mode="read")


class UnitOfWork:
    def __init__(self, database: Database):
        self.database = database

    @classmethod
    def of_task(cls) -> UnitOfWork:
        """On the database the running task is bound to (for code that is handed none)."""
        return cls(current_database())

    @property
    def guards_writes(self) -> bool:
        """PostgreSQL guards a write instead of locking; SQLite serialises its writers."""
        return self.database.dialect == "postgres"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with sql.bound(self.database), sql.transaction():
            yield Session(mode="locked")

    def reading(self) -> sql.LeanScope:
        """`async with uow.reading() as session:`."""
        return sql.LeanScope(self.database, _READING)

    async def guarded(self, work: Callable[[Session], Awaitable[T | None]]) -> T:
        """`work` returns None when its guarded write was refused (the customer changed
        since it was read): nothing was written, and it runs again."""
        if self.guards_writes:
            for _ in range(UNLOCKED_TRIES):
                try:
                    async with sql.LeanScope(self.database):
                        result = await work(Session(mode="unlocked"))
                except NeedsLock:
                    break
                if result is not None:
                    return result
        async with self.transaction() as session:
            result = await work(session)
        assert result is not None, "under the customer's lock the guard cannot refuse"
        return result
