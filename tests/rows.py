"""Reading rows straight from the database under test, for assertions on what was written."""

from __future__ import annotations

from typing import Any

from persistence.statements import Statement
from persistence.tables import ALL
from persistence.unit_of_work import UnitOfWork

_TABLES = {table.name: table for table in ALL}


async def rows(uow: UnitOfWork, sql: str, table: str | None = None, **params: Any) -> list[dict]:
    """`sql` with named parameters; rows decoded by `table`'s description when given."""
    async with uow.reading() as session:
        found = await session.conn.fetch(Statement(sql), params)
    return [_TABLES[table].decode(row) for row in found] if table else found
