"""The table descriptions statements are built from (persistence.tables, read from the
models) say what the migrated database holds: every column, its type and whether it may
be null, on the database of the run."""

from __future__ import annotations

import pytest

from persistence import sql
from persistence.database import close_database, open_database
from persistence.tables import TABLES

# information_schema's name of each type a description gives.
PG_NAMES = {
    "bigint": "bigint",
    "int": "integer",
    "smallint": "smallint",
    "boolean": "boolean",
    "varchar": "character varying",
    "text": "text",
    "numeric": "numeric",
    "timestamptz": "timestamp with time zone",
    "date": "date",
    "jsonb": "jsonb",
}


@pytest.fixture
async def db(server):
    # The server's start migrated the database (SQLite migrates itself).
    database = await open_database(server.database_url)
    try:
        with database:
            yield database
    finally:
        await close_database(database)


async def columns_of(database, table: str) -> dict[str, tuple[str | None, bool]]:
    """Each column's type (PostgreSQL only) and whether it may be null."""
    if database.dialect == "postgres":
        rows = await sql.fetch(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1",
            table,
        )
        return {r["column_name"]: (r["data_type"], r["is_nullable"] == "YES") for r in rows}
    rows = await sql.fetch(f"PRAGMA table_info({table})")
    return {r["name"]: (None, not r["notnull"] and not r["pk"]) for r in rows}


async def test_every_described_column_is_in_the_database_with_its_type_and_nullability(db):
    for table in TABLES.values():
        found = await columns_of(db, table.name)
        described = {
            column.name: (PG_NAMES[column.pg_type] if db.dialect == "postgres" else None, column.nullable)
            for column in table.columns.values()
        }
        assert found == described, table.name
