"""Wake-ups (the tail's, the Redis bus's) are sent by `persistence.sql.after_commit`: once
the writes are committed, so that a reader woken by them finds the rows, and never for a
transaction that rolled back."""

from __future__ import annotations

import contextlib

from persistence import sql
from tests.conftest import Server


async def test_a_wake_up_comes_once_the_transaction_commits_and_never_for_a_rollback(server: Server):
    uow, told = server.uow, []

    with contextlib.suppress(LookupError):
        async with uow.transaction():
            sql.after_commit(lambda: told.append("rolled back"))
            raise LookupError
    async with uow.transaction():
        async with sql.transaction():  # a savepoint: still told at the outer commit
            sql.after_commit(lambda: told.append("committed"))
        assert told == []
    assert told == ["committed"]


async def test_outside_a_transaction_a_wake_up_is_told_at_once_or_when_the_lean_scope_ends(server: Server):
    uow, told = server.uow, []

    sql.after_commit(lambda: told.append("at once"))
    async with uow.reading():
        sql.after_commit(lambda: told.append("scope ended"))
        # SQLite's reads share one connection and are not a scope: told at once there.
        assert told == ["at once"] if uow.guards_writes else told == ["at once", "scope ended"]
    assert told == ["at once", "scope ended"]
