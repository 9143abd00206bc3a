"""Statements with named parameters, and the builders that make them from table descriptions.

A statement names its parameters (`:customer_id`); a name may be used any number of
times, anywhere. It is compiled once, when the statement is made, into the `$n` text that
persistence.sql runs on both databases (SQLite gets `$n` as `?n`, its numbered
parameter, so one value serves every use of its name) and the order of the names, so no
caller counts positions. Quoted text and PostgreSQL's casts (`:payload::jsonb`) are left
as they are. A module constant (`Statement(...)`) is compiled at import; a text written
where it runs goes through `named(...)`, compiled once per text. Only statements whose
placeholders are counted out at run time (an `IN` list, a multi-row `VALUES`) still write
`$n` themselves, through `persistence.sql.fetch`/`execute`.

The builders take column lists and types from `persistence.tables`, so an INSERT names
its table's columns as the model declares them and rows given as JSON are typed as their
columns are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from persistence.tables import Table

# A quoted literal or identifier (skipped whole, so `'a:b'` is no parameter), or
# `:name` not preceded by a colon or a word character (so `x::jsonb` and `'12:30'` are not).
_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|(?<![:\w]):([A-Za-z_]\w*)""")
_NUMBERED = re.compile(r"(?<![\w$])\$\d")


class Statement:
    """A statement's text with `$n` for its named parameters, and the names in `$n` order."""

    __slots__ = ("names", "source", "text")

    def __init__(self, source: str):
        if _NUMBERED.search(_TOKEN.sub(lambda m: "" if m.group(1) is None else m.group(0), source)):
            raise ValueError("a named statement takes no numbered parameters ($n): name them")
        # A dict, not a list searched per name: a multi-row INSERT of n rows has n times its
        # columns' names, and searching a list for each made compiling quadratic (a job's
        # 200,000-entry insert held the event loop for over an hour, shutdown included).
        numbers: dict[str, int] = {}

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return match.group(0)
            return f"${numbers.setdefault(name, len(numbers) + 1)}"

        self.source = source
        self.text = _TOKEN.sub(number, source)
        self.names: tuple[str, ...] = tuple(numbers)

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        """The values in `$n` order. Every name must be given, and nothing else: a value
        the statement does not use is a mistake as surely as one it lacks."""
        try:
            values = [params[name] for name in self.names]
        except KeyError:
            values = None
        if values is None or len(params) != len(values):
            missing = [name for name in self.names if name not in params]
            unused = sorted(set(params) - set(self.names))
            raise KeyError(f"parameters missing: {missing}, not in the statement: {unused}")
        return values

    def __repr__(self) -> str:
        return f"Statement({self.source!r})"


@lru_cache(maxsize=1024)
def named(source: str) -> Statement:
    """The statement of a text written where it runs (a module constant of `Statement` is
    the other way): compiled on first use, then found by its text. A text made at run time
    from a few fixed variants (`FOR UPDATE` or not) is a statement per variant."""
    return Statement(source)


def column_list(columns: Sequence[str]) -> str:
    return ", ".join(columns)


def insert(
    table: Table,
    columns: Sequence[str] | None = None,
    *,
    fixed: Mapping[str, str] | None = None,
    suffix: str = "",
    returning: str = "",
) -> Statement:
    """`INSERT INTO table (columns) VALUES (:column, ...)`, one row, each parameter named as
    its column (the whole row, `table.written`, unless columns are named); `fixed` columns
    take the SQL given instead (a new customer's zero balance)."""
    fixed = dict(fixed or {})
    columns = _checked(table, [c for c in (columns or table.written) if c not in fixed])
    _checked(table, list(fixed))
    values = [f":{c}" for c in columns] + list(fixed.values())
    return Statement(
        f"INSERT INTO {table.name} ({column_list([*columns, *fixed])}) VALUES ({', '.join(values)})"
        + _tail(suffix, returning)
    )


class RowsInsert:
    """A multi-row INSERT of whole rows (or of the columns named): `VALUES (...), (...)`,
    each row's parameters named `:column_i`. One statement per row count, made once."""

    __slots__ = ("_statements", "columns", "returning", "suffix", "table")

    def __init__(self, table: Table, columns: Sequence[str] | None = None, *, suffix: str = "", returning: str = ""):
        self.table = table
        self.columns = _checked(table, columns)
        self.suffix = suffix
        self.returning = returning
        self._statements: dict[int, Statement] = {}

    def statement(self, rows: int) -> Statement:
        found = self._statements.get(rows)
        if found is None:
            groups = ", ".join(
                "(" + ", ".join(f":{column}_{index}" for column in self.columns) + ")" for index in range(rows)
            )
            found = Statement(
                f"INSERT INTO {self.table.name} ({column_list(self.columns)}) VALUES {groups}"
                + _tail(self.suffix, self.returning)
            )
            # Row counts are small (an order's entries, a job's batch); a bound all the same.
            if len(self._statements) < 128:
                self._statements[rows] = found
        return found

    def params(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {f"{column}_{index}": row[column] for index, row in enumerate(rows) for column in self.columns}


def insert_select(table: Table, expressions: Mapping[str, str], source: str, *, returning: str = "") -> str:
    """`INSERT INTO table (column, ...) SELECT expression, ... FROM source`, a column for each
    expression: a statement of its own, or a part of one (a data-modifying CTE)."""
    columns = _checked(table, list(expressions))
    return (
        f"INSERT INTO {table.name} ({column_list(columns)}) SELECT {', '.join(expressions.values())}"
        f" FROM {source}" + _tail("", returning)
    )


def whole_row(table: Table, expression: Callable[[str], str]) -> dict[str, str]:
    """An expression for every column an INSERT of a whole row names (for insert_select)."""
    return {column: expression(column) for column in table.written}


class JsonRows:
    """`jsonb_to_recordset(:name::jsonb) AS x(a type, ...)`: some rows as one JSON parameter,
    each column typed as the table's (PostgreSQL's set-based multi-row insert: one text for
    any row count). One JSON text instead of an array per column: asyncpg encodes a typed
    array element by element, with several abstract-class checks per element, which cost
    more of recordOrder's CPU (about 7% of its instructions, callgrind) than the JSON
    encoder's C loop. Decimals go as their text (exact: PostgreSQL reads the string with
    numeric's own input), times in ISO 8601 with their offset, and a JSON column's value
    as its text (read as text, then cast). `numbered` adds `n`, each row's number from 1.
    Encoded by orjson (a third of the json module's CPU for these rows): its datetimes are
    the ISO 8601 text `_json_value` gives (naive ones read as UTC), non-ASCII characters
    UTF-8 rather than escapes (the same JSON to PostgreSQL); what orjson refuses (an
    integer past 64 bits) goes through the json module as before."""

    __slots__ = ("_encode", "_json", "_numbered", "columns", "name", "sql")

    def __init__(self, table: Table, columns: Sequence[str], name: str, *, numbered: bool = False):
        self.columns = _checked(table, columns)
        self.name = name
        self._json = frozenset(c for c in self.columns if table[c].pg_type == "jsonb")
        types = [f"{c} {'text' if c in self._json else table[c].pg_type}" for c in self.columns]
        self.sql = f"jsonb_to_recordset(:{name}::jsonb) AS x({', '.join([*types, *(['n int'] if numbered else [])])})"
        self._encode = json.JSONEncoder(separators=(",", ":"), default=_json_value, check_circular=False).encode
        self._numbered = numbered

    def column(self, column: str) -> str:
        """The SQL that reads `column` from the rows: JSON columns come as text."""
        return f"x.{column}::jsonb" if column in self._json else f"x.{column}"

    def params(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        columns = self.columns
        if self._numbered:
            body = [{**{c: row[c] for c in columns}, "n": n} for n, row in enumerate(rows, 1)]
        else:
            body = [{c: row[c] for c in columns} for row in rows]
        try:
            return {self.name: orjson.dumps(body, default=_json_value, option=orjson.OPT_NAIVE_UTC).decode()}
        except TypeError:  # orjson.JSONEncodeError
            return {self.name: self._encode(body)}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _checked(table: Table, columns: Sequence[str] | None) -> tuple[str, ...]:
    if columns is None:
        return table.written
    for column in columns:
        table[column]  # a misspelt column fails here, when the module is imported
    return tuple(columns)


def _tail(suffix: str, returning: str) -> str:
    return (f" {suffix}" if suffix else "") + (f" RETURNING {returning}" if returning else "")
