"""Backfilled history written in batches (`loyalty import`), the same statements on both
databases: a batch is loaded into staging tables (COPY on PostgreSQL, a prepared INSERT per
row on SQLite), then moved into the program's tables by a few INSERT ... SELECT statements
that skip what is there already (idempotent on the order's and the customer's id).

Imported orders earn nothing here (points_earned 0, rules_version `import`); `--award`
records each order through app.orders instead. Their request digest is the one recordOrder
computes, so the store sending the same order again later is a replay, not a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.referrals import new_referral_code
from persistence import sql
from persistence.repositories import NEW_CUSTOMER
from persistence.statements import Statement, insert_select, named, whole_row
from persistence.tables import CUSTOMERS, ORDER_LINES, ORDERS

IMPORT_RULES_VERSION = "import"

_STAGING = {
    "import_orders": (
        ("external_id", "varchar(128)"),
        ("customer_external_id", "varchar(128)"),
        ("email", "varchar(254)"),
        ("currency", "varchar(3)"),
        ("placed_at", "timestamptz"),
        ("subtotal", "numeric"),
        ("shipping_amount", "numeric"),
        ("request_hash", "varchar(64)"),
        ("program_currency", "varchar(3)"),
        ("program_subtotal", "numeric"),
        ("exchange_rate", "numeric"),
        ("referral_code", "varchar(64)"),
    ),
    "import_lines": (
        ("order_external_id", "varchar(128)"),
        ("position", "int"),
        ("sku", "varchar(128)"),
        ("category", "varchar(128)"),
        ("quantity", "int"),
        ("unit_price", "numeric"),
    ),
    "import_customers": (
        ("external_id", "varchar(128)"),
        ("email", "varchar(254)"),
        ("name", "varchar(200)"),
        ("birthday", "date"),
        ("enrolled_at", "timestamptz"),
        ("referral_code", "varchar(64)"),
    ),
}


async def _staging(table: str) -> list[str]:
    """An empty staging table of this connection's own; its column names. SQLite keeps
    every value as the text Tortoise would store (a NUMERIC column would make 19.90 a float)."""
    typed = sql.on_postgres()
    columns = _STAGING[table]
    body = ", ".join(f"{name} {kind if typed or kind in ('int',) else 'text'}" for name, kind in columns)
    await sql.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({body})")
    await sql.execute(f"DELETE FROM {table}")
    return [name for name, _ in columns]


@dataclass(frozen=True)
class OrderRow:
    external_id: str
    customer_external_id: str
    email: str
    currency: str
    placed_at: datetime
    subtotal: Decimal
    shipping_amount: Decimal
    request_hash: str
    program_currency: str
    program_subtotal: Decimal
    exchange_rate: Decimal
    lines: Sequence[tuple[str, str | None, int, Decimal]]
    """sku, category, quantity, unit price."""


@dataclass(frozen=True)
class CustomerRow:
    external_id: str
    email: str
    name: str | None
    birthday: object
    enrolled_at: datetime


# Customers enrolled by their first imported order, in the entry tier, with the figures
# their orders in the batch give (written once: updating them after cost as much again).
_NEW_CUSTOMERS = Statement(
    insert_select(
        CUSTOMERS,
        {
            "external_id": "s.customer_external_id",
            "email": "MIN(s.email)",
            "tags": "'[]'",
            "tier": ":tier",
            **NEW_CUSTOMER,
            "order_count": "COUNT(*)",
            "lifetime_spend": "SUM(s.program_subtotal)",
            "last_order_at": "MAX(s.placed_at)",
            "enrolled_at": "MIN(s.placed_at)",
            "referral_code": "MIN(s.referral_code)",
        },
        "import_orders s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.external_id = s.customer_external_id)"
        " GROUP BY s.customer_external_id",
    )
)
_CUSTOMERS = Statement(
    insert_select(
        CUSTOMERS,
        {
            **{column: column for column in ("external_id", "email", "name", "birthday")},
            "tags": "'[]'",
            "tier": ":tier",
            **NEW_CUSTOMER,
            "enrolled_at": "enrolled_at",
            "referral_code": "referral_code",
        },
        "import_customers",
    )
)

# Imported orders earn nothing (see above); every other column comes from the staging row.
_IMPORTED = {
    "customer_id": "c.id",
    "coupon_codes": "'[]'",
    "points_earned": "0",
    "rules_version": ":rules_version",
    "created_at": ":now",
    # Store exports carry neither: read back as no country and no tags, as older orders.
    "country": "NULL",
}
_LINE_IMPORTED = {"order_id": "o.id", "tags": "NULL"}
_ORDERS = Statement(
    insert_select(
        ORDERS,
        whole_row(ORDERS, lambda column: _IMPORTED.get(column, f"s.{column}")),
        "import_orders s JOIN customers c ON c.external_id = s.customer_external_id",
    )
)
_LINES = Statement(
    insert_select(
        ORDER_LINES,
        whole_row(ORDER_LINES, lambda column: _LINE_IMPORTED.get(column, f"l.{column}")),
        "import_lines l JOIN import_orders s ON s.external_id = l.order_external_id"
        " JOIN orders o ON o.external_id = l.order_external_id",
    )
)

# The enrolled customers' cached figures move by what their new orders add, as
# recordOrder's do (run before _NEW_CUSTOMERS, which writes the new ones' own).
_TOTALS = """
UPDATE customers SET order_count = order_count + a.n, lifetime_spend = lifetime_spend + a.spend,
       last_order_at = CASE WHEN customers.last_order_at IS NULL OR customers.last_order_at < a.last
                            THEN a.last ELSE customers.last_order_at END
FROM (SELECT customer_external_id AS k, COUNT(*) AS n, SUM(program_subtotal) AS spend, MAX(placed_at) AS last
      FROM import_orders GROUP BY customer_external_id) a
WHERE customers.external_id = a.k
"""


async def write_orders(batch: Sequence[OrderRow], entry_tier: str | None, now: datetime) -> int:
    """Writes the orders not already there (and customers not yet enrolled, as of their
    first order, in the entry tier); returns how many orders were new. Call inside a
    transaction: the staging tables are its connection's own."""
    order_columns = await _staging("import_orders")
    line_columns = await _staging("import_lines")
    # Every customer has a referral code of their own (a customer created here too).
    codes = {o.customer_external_id: new_referral_code() for o in batch}
    await sql.load_rows(
        "import_orders",
        order_columns,
        [
            (o.external_id, o.customer_external_id, o.email, o.currency, o.placed_at, o.subtotal,
             o.shipping_amount, o.request_hash, o.program_currency, o.program_subtotal, o.exchange_rate,
             codes[o.customer_external_id])
            for o in batch
        ],
    )  # fmt: skip
    fresh = await new_only()
    if not fresh:
        return 0
    await sql.load_rows(
        "import_lines",
        line_columns,
        [(o.external_id, n, *line) for o in batch for n, line in enumerate(o.lines)],
    )
    await move_staged(entry_tier, now)
    return fresh


async def new_only() -> int:
    """Orders already recorded (an earlier run, or the API) are left as they are: dropped
    from the staged batch; how many are left."""
    await sql.execute("DELETE FROM import_orders WHERE external_id IN (SELECT external_id FROM orders)")
    fresh = await sql.fetch("SELECT COUNT(*) AS n FROM import_orders")
    return int(fresh[0]["n"])


async def staging_tables() -> None:
    """Empty `import_orders` and `import_lines` of this connection's own."""
    await _staging("import_orders")
    await _staging("import_lines")


async def move_staged(entry_tier: str | None, now: datetime) -> None:
    """The staged orders (none of them there yet) and their lines into the program's
    tables, with the customers they enrol and the totals they move."""
    await sql.execute(_TOTALS)
    await sql.execute_named(_NEW_CUSTOMERS, {"tier": entry_tier})
    await sql.execute_named(_ORDERS, {"rules_version": IMPORT_RULES_VERSION, "now": now})
    await sql.execute_named(_LINES, {})


async def write_customers(batch: Sequence[CustomerRow], entry_tier: str | None) -> int:
    """Enrolls the customers not already enrolled; returns how many were new. Call inside a
    transaction, as write_orders."""
    columns = await _staging("import_customers")
    await sql.load_rows(
        "import_customers",
        columns,
        [(c.external_id, c.email, c.name, c.birthday, c.enrolled_at, new_referral_code()) for c in batch],
    )
    await sql.execute("DELETE FROM import_customers WHERE external_id IN (SELECT external_id FROM customers)")
    fresh = await sql.fetch("SELECT COUNT(*) AS n FROM import_customers")
    await sql.execute_named(
        named(
            "INSERT INTO customers (external_id, email, name, birthday, tags, tier, points_available,"
            " points_pending, lifetime_earned, lifetime_spend, order_count, enrolled_at, referral_code)"
            " SELECT external_id, email, name, birthday, '[]', :entry_tier, 0, 0, 0, 0, 0, enrolled_at, referral_code"
            " FROM import_customers"
        ),
        {"entry_tier": entry_tier},
    )
    return int(fresh[0]["n"])
