"""One description per table: its columns and their PostgreSQL types, read from the models.

`models.py` and `event_models.py` stay the one place that declares a table's shape (the
migrations are generated from them); this module reads them once, at import, through
`Model.describe()`, Tortoise's public description of a model. Statements are built from
these descriptions (`persistence.statements`): the column list of an INSERT, the typed
rows of a `jsonb_to_recordset(...)`, the casts of a parameter PostgreSQL cannot infer. So a column
is named in one place, and a column added to a model is written by every INSERT built
from its table, or fails there (its row builder lacks it), never silently left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.models import Model

from persistence import event_models, models

# A parameter's cast names the type without its length or precision: casting to
# varchar(128) or numeric(20,4) would cut or round silently, where storing into the
# column refuses (varchar) or rounds as the column says (numeric), as a plain INSERT does.
_PG_TYPES = {
    "BigIntField": "bigint",
    "IntField": "int",
    "SmallIntField": "smallint",
    "BooleanField": "boolean",
    "CharField": "varchar",
    "TextField": "text",
    "DecimalField": "numeric",
    "DatetimeField": "timestamptz",
    "DateField": "date",
    "JSONField": "jsonb",
}
# Every foreign key here refers to a BIGINT id (tests/unit/test_statements.py checks it).
_KEY_TYPE = "bigint"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    pg_type: str
    nullable: bool
    generated: bool = False
    """Filled by the database (a serial id): no INSERT names it."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: Mapping[str, Column]

    def __getitem__(self, column: str) -> Column:
        try:
            return self.columns[column]
        except KeyError:
            raise KeyError(f"{self.name} has no column {column!r}") from None

    @property
    def written(self) -> tuple[str, ...]:
        """The columns an INSERT of a whole row names: all but the generated id."""
        return tuple(name for name, column in self.columns.items() if not column.generated)

    def cast(self, column: str) -> str:
        """`::type` for a parameter stored into `column`."""
        return f"::{self[column].pg_type}"


def describe(model: type[Model]) -> Table:
    description: dict[str, Any] = model.describe(serializable=True)
    columns: dict[str, Column] = {}
    for field in [description["pk_field"], *description["data_fields"]]:
        columns[field["db_column"]] = Column(
            field["db_column"], _PG_TYPES[field["field_type"]], field["nullable"], generated=field["generated"]
        )
    for field in [*description["fk_fields"], *description["o2o_fields"]]:
        # Tortoise's default source column; once Tortoise is initialised it is also among
        # the data fields above, the same column.
        column = field.get("raw_field") or f"{field['name']}_id"
        columns.setdefault(column, Column(column, _KEY_TYPE, field["nullable"]))
    return Table(description["table"], columns)


MODELS: tuple[type[Model], ...] = tuple(
    value
    for module in (models, event_models)
    for value in vars(module).values()
    if isinstance(value, type) and issubclass(value, Model) and value.__module__ == module.__name__
)
TABLES: dict[str, Table] = {table.name: table for table in map(describe, MODELS)}

CUSTOMERS = TABLES["customers"]
CUSTOMER_EVENT_SEQUENCES = TABLES["customer_event_sequences"]
LEDGER_ENTRIES = TABLES["ledger_entries"]
ORDERS = TABLES["orders"]
ORDER_LINES = TABLES["order_lines"]
REWARD_EVENTS = TABLES["reward_events"]
RULE_USES = TABLES["rule_uses"]
