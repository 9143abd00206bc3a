"""SQL statements with named parameters, one text for both databases.

A statement names its parameters (`:customer_id`); each database gets its own form, made
once per statement: PostgreSQL numbers every distinct name (`$1`, a name used twice is
one parameter), SQLite gets a `?` per occurrence in textual order. So a text may use a
name anywhere and any number of times, and no caller counts positions.

The INSERT builders take their column lists from the table descriptions
(`persistence.tables`), so a column is named in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from persistence.tables import Table

# `:name`, but not the second colon of a PostgreSQL cast (`x::jsonb`).
_NAME = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Statement:
    text: str
    postgres: str = field(init=False)
    sqlite: str = field(init=False)
    names: tuple[str, ...] = field(init=False)
    """Distinct parameter names in the order of PostgreSQL's `$n`."""
    occurrences: tuple[str, ...] = field(init=False)
    """Every use of a name in textual order: SQLite's `?`s."""

    def __post_init__(self) -> None:
        names: list[str] = []
        occurrences: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            occurrences.append(name)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        object.__setattr__(self, "postgres", _NAME.sub(number, self.text))
        object.__setattr__(self, "sqlite", _NAME.sub("?", self.text))
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "occurrences", tuple(occurrences))

    def postgres_values(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]

    def sqlite_values(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.occurrences]


def insert(table: Table, columns: Sequence[str], *, returning: str = "", suffix: str = "") -> Statement:
    """`INSERT INTO table (columns) VALUES (:column, ...)`: one row, parameters named as
    the columns."""
    for column in columns:
        table[column]  # noqa: B018 -- a misspelt column fails here, at import
    text = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
        + (f" {suffix}" if suffix else "")
        + (f" RETURNING {returning}" if returning else "")
    )
    return Statement(text)


@dataclass(frozen=True)
class RowsInsert:
    """A multi-row INSERT of these columns: `VALUES (...), (...)` with one group of named
    parameters per row (`:kind_0, :kind_1, ...`); texts are made once per row count."""

    table: Table
    columns: tuple[str, ...]
    suffix: str = ""
    returning: str = ""
    _texts: dict[int, Statement] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for column in self.columns:
            self.table[column]  # noqa: B018 -- a misspelt column fails here, at import

    def statement(self, rows: int) -> Statement:
        text = self._texts.get(rows)
        if text is None:
            groups = ", ".join(
                "(" + ", ".join(f":{column}_{index}" for column in self.columns) + ")" for index in range(rows)
            )
            text = Statement(
                f"INSERT INTO {self.table.name} ({', '.join(self.columns)}) VALUES {groups}"
                + (f" {self.suffix}" if self.suffix else "")
                + (f" RETURNING {self.returning}" if self.returning else "")
            )
            if rows <= 64:
                self._texts[rows] = text
        return text

    def params(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {f"{column}_{index}": row[column] for index, row in enumerate(rows) for column in self.columns}


def unnest(table: Table, columns: Sequence[str], prefix: str) -> str:
    """`unnest(:prefix_a::type[], ...) AS x(a, ...)`: one array parameter per column, typed
    by the table's description (PostgreSQL's set-based form of a multi-row insert)."""
    arrays = ", ".join(f":{prefix}_{c}::{table[c].pg_type}[]" for c in columns)
    return f"unnest({arrays}) AS x({', '.join(columns)})"


def arrays(prefix: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The array parameters of `unnest(table, columns, prefix)` for these rows."""
    return {f"{prefix}_{c}": [row[c] for row in rows] for c in columns}
