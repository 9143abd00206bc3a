"""One description per table (its columns and their types), read from the Tortoise models.

`models.py` stays the one place that declares table shapes (migrations are generated from
it); this module reads it through `Model.describe()`, Tortoise's public description, once.
Both databases' statements are built from these descriptions (`persistence.statements`),
and rows come back decoded by them: SQLite hands back text for datetimes, decimals and
JSON, PostgreSQL (asyncpg) hands back JSON as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar, cast

from tortoise.models import Model

from persistence import models

R = TypeVar("R")


class Kind(StrEnum):
    """What a column holds, as far as encoding and decoding care."""

    INT = "int"
    TEXT = "text"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    DATE = "date"
    JSON = "json"


# PostgreSQL's type of each kind, for the casts of array parameters (unnest).
PG_TYPES = {
    Kind.INT: "bigint",
    Kind.TEXT: "text",
    Kind.DECIMAL: "numeric",
    Kind.DATETIME: "timestamptz",
    Kind.DATE: "date",
    Kind.JSON: "jsonb",
}

_KINDS = {
    "BigIntField": Kind.INT,
    "IntField": Kind.INT,
    "SmallIntField": Kind.INT,
    "CharField": Kind.TEXT,
    "TextField": Kind.TEXT,
    "DecimalField": Kind.DECIMAL,
    "DatetimeField": Kind.DATETIME,
    "DateField": Kind.DATE,
    "JSONField": Kind.JSON,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    columns: Mapping[str, Column]

    def __getitem__(self, column: str) -> Column:
        return self.columns[column]

    def decode(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as Python values: columns of this table by their kind, others as given.
        Integers and text come back as they are from both drivers, so only the other
        kinds are looked at (this runs on every row read on the hot path)."""
        decoded = dict(row)
        for name, kind in self._converted:
            value = decoded.get(name)
            if value is not None:
                decoded[name] = _decode(kind, value)
        return decoded

    @property
    def _converted(self) -> tuple[tuple[str, Kind], ...]:
        converted = self.__dict__.get("_converted_columns")
        if converted is None:
            converted = tuple((c.name, c.kind) for c in self.columns.values() if c.kind not in (Kind.INT, Kind.TEXT))
            object.__setattr__(self, "_converted_columns", converted)
        return converted


def describe(model: type[Model]) -> Table:
    description = model.describe(serializable=True)
    columns: dict[str, Column] = {}
    for field in [description["pk_field"], *description["data_fields"]]:
        columns[field["db_column"]] = Column(field["db_column"], _KINDS[field["field_type"]], field["nullable"])
    for field in description["fk_fields"]:
        # A foreign key's column is `<name>_id` (Tortoise's default source field); every key
        # here refers to a BIGINT id.
        column = f"{field['name']}_id"
        columns.setdefault(column, Column(column, Kind.INT, field["nullable"]))
    return Table(description["table"], columns)


CUSTOMERS = describe(models.Customer)
ORDERS = describe(models.Order)
ORDER_LINES = describe(models.OrderLine)
LEDGER_ENTRIES = describe(models.LedgerEntry)
ENGAGEMENT_EVENTS = describe(models.EngagementEvent)
RULE_USES = describe(models.RuleUse)
RULE_BUDGETS = describe(models.RuleBudget)
REWARD_EVENTS = describe(models.RewardEvent)
RULES_VERSIONS = describe(models.RulesVersion)
API_KEYS = describe(models.ApiKey)
SETTINGS = describe(models.Setting)
ORDER_RETURNS = describe(models.OrderReturn)
ORDER_RETURN_LINES = describe(models.OrderReturnLine)
ADJUSTMENTS = describe(models.Adjustment)
RULES_ACTIVATIONS = describe(models.RulesActivation)

ALL = (
    CUSTOMERS,
    ORDERS,
    ORDER_LINES,
    LEDGER_ENTRIES,
    ENGAGEMENT_EVENTS,
    RULE_USES,
    RULE_BUDGETS,
    REWARD_EVENTS,
    RULES_VERSIONS,
    API_KEYS,
    SETTINGS,
    ORDER_RETURNS,
    ORDER_RETURN_LINES,
    ADJUSTMENTS,
    RULES_ACTIVATIONS,
)


def _decode(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.DATETIME and isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if kind is Kind.DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is Kind.DECIMAL and not isinstance(value, Decimal):
        return Decimal(str(value))
    if kind is Kind.JSON and isinstance(value, str | bytes):
        return json.loads(value)
    return value


def record(cls: type[R], row: Mapping[str, Any], **given: Any) -> R:
    """A dataclass of a decoded row: each field from the column of its name, unless given
    (a field with a default may be missing from the row)."""
    names = [f.name for f in fields(cast(Any, cls))]
    columns = {name: row[name] for name in names if name in row and name not in given}
    return cls(**columns, **given)


def as_utc(moment: datetime) -> datetime:
    """A time as it comes back from either database (aware, in UTC); a naive time is
    taken to be UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_json(value: Any) -> str:
    """JSON columns take text on both drivers (asyncpg has no JSON codec set)."""
    return json.dumps(value, separators=(",", ":"))
