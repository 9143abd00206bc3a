"""The storefront's reads: a customer and a page of their ledger, as plain statements.

Measured on PostgreSQL (bench/bench_reads.py): building these through Tortoise's query
builder and models was most of `me`'s server CPU, and the ledger page filtered through a
join on `customers.external_id`, so PostgreSQL could not walk the `(customer_id, id)`
index and a page's cost grew with the customer's history. Here each read is one statement
whose plan is an index walk: the customer by its unique `external_id`, the page by
`(customer_id, id)` below the cursor. Functions take plain values and return domain
types or plain dataclasses; nothing here holds a connection between calls. Each statement
runs on a pooled asyncpg connection directly (`sql.lean_connection`), not through
Tortoise's per-query wrappers.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from domain.customers import Customer
from domain.ledger import Balance
from persistence import sql
from persistence.rule_uses import UsageJson
from persistence.statements import Statement

_CUSTOMER_COLUMNS = (
    "SELECT id, external_id, email, name, birthday, tags, attributes, referral_code, tier, points_available,"
    " points_pending, lifetime_earned, lifetime_spend, order_count, last_order_at, enrolled_at,"
    " referred_by_id IS NOT NULL AS referred"
)
_BY_EXTERNAL_ID = " FROM customers WHERE external_id = :external_id"
_CUSTOMER = Statement(_CUSTOMER_COLUMNS + _BY_EXTERNAL_ID)
# A dry run's usage beside the customer, in one round trip (columns as in rule_uses.UsageJson):
# the customer's rule uses (by the (customer_id, rule_id, used_at) index) and the whole
# budgets table, whose rows exist only for counters some recording moved.
_WITH_USAGE = {
    "postgres": Statement(
        _CUSTOMER_COLUMNS
        + ", (SELECT json_agg(json_build_array(u.rule_id, u.used_at, u.uses, u.scope)) FROM rule_uses u"
        " WHERE u.customer_id = customers.id) AS usage_uses"
        ", (SELECT json_agg(json_build_array(b.rule_id, b.points_awarded, b.amount_awarded, b.uses))"
        " FROM rule_budgets b) AS usage_budgets" + _BY_EXTERNAL_ID
    ),
    "sqlite": Statement(
        _CUSTOMER_COLUMNS
        + ", (SELECT json_group_array(json_array(u.rule_id, u.used_at, u.uses, u.scope)) FROM rule_uses u"
        " WHERE u.customer_id = customers.id) AS usage_uses"
        ", (SELECT json_group_array(json_array(b.rule_id, b.points_awarded, b.amount_awarded, b.uses))"
        " FROM rule_budgets b) AS usage_budgets" + _BY_EXTERNAL_ID
    ),
}

# The customer's id comes from the unique index on external_id (an InitPlan run once),
# so the page itself is a backward walk of (customer_id, id) that stops after `:limit` rows.
# The columns are LedgerRow's, in its order: a row becomes one without naming them.
_PAGE_COLUMNS = (
    "SELECT e.id, e.kind, e.bucket, e.points, e.reason, e.rule_id, e.rules_version, e.variant,"
    " o.external_id AS order_external_id, e.created_at, e.available_at, e.expires_at"
    " FROM ledger_entries e LEFT JOIN orders o ON o.id = e.order_id"
    " WHERE e.customer_id = (SELECT id FROM customers WHERE external_id = :external_id)"
)
_FIRST_PAGE = Statement(_PAGE_COLUMNS + " ORDER BY e.id DESC LIMIT :limit")
_PAGE_AFTER = Statement(_PAGE_COLUMNS + " AND e.id < :before_id ORDER BY e.id DESC LIMIT :limit")


class LedgerRow(NamedTuple):
    """A tuple, in the page statement's column order: built straight from its rows."""

    id: int
    kind: str
    bucket: str
    points: int
    reason: str
    rule_id: str | None
    rules_version: str | None
    variant: str | None
    order_external_id: str | None
    created_at: datetime
    available_at: datetime | None
    expires_at: datetime | None


async def customer(external_id: str) -> Customer | None:
    found = await customer_with_id(external_id)
    return found[1] if found else None


async def customer_with_id(external_id: str) -> tuple[int, Customer] | None:
    """The customer and its row id (what a dry run reads the rules' usage by)."""
    async with sql.lean_connection():
        rows = await sql.fetch_rows_named(_CUSTOMER, {"external_id": external_id})
    return (int(rows[0]["id"]), _customer(rows[0])) if rows else None


async def customer_with_usage(external_id: str) -> tuple[int, Customer, UsageJson] | None:
    """The customer, its row id, and what a dry run under limits reads by it (the
    customer's rule uses, the program-wide counters), in one statement."""
    async with sql.lean_connection():
        rows = await sql.fetch_named(
            _WITH_USAGE["postgres" if sql.on_postgres() else "sqlite"], {"external_id": external_id}
        )
    if not rows:
        return None
    row = rows[0]
    return int(row["id"]), _customer(row), UsageJson(row["usage_uses"], row["usage_budgets"])


async def ledger_page(customer_external_id: str, first: int, before_id: int | None) -> tuple[list[LedgerRow], bool]:
    """Newest entries first, those older than `before_id` when given; one extra row tells
    whether another page exists."""
    async with sql.lean_connection():
        if before_id is None:
            rows = await sql.fetch_rows_named(_FIRST_PAGE, {"external_id": customer_external_id, "limit": first + 1})
        else:
            rows = await sql.fetch_rows_named(
                _PAGE_AFTER, {"external_id": customer_external_id, "before_id": before_id, "limit": first + 1}
            )
    page = [_ledger_row(row) for row in rows[:first]]
    return page, len(rows) > first


_TIMESTAMPS = tuple(LedgerRow._fields.index(name) for name in ("created_at", "available_at", "expires_at"))


def _ledger_row(row: Any) -> LedgerRow:
    values = tuple(row.values()) if isinstance(row, dict) else row
    if isinstance(values[_TIMESTAMPS[0]], str):
        # SQLite hands timestamps back as the ISO text Tortoise stored.
        values = list(values)
        for index in _TIMESTAMPS:
            values[index] = _timestamp(values[index])
    return LedgerRow._make(values)


def _customer(row: Any) -> Customer:
    tags = row["tags"]
    return Customer(
        external_id=row["external_id"],
        email=row["email"],
        name=row["name"],
        birthday=date.fromisoformat(row["birthday"]) if isinstance(row["birthday"], str) else row["birthday"],
        tier=row["tier"],
        balance=Balance(row["points_available"], row["points_pending"], row["lifetime_earned"]),
        lifetime_spend=_decimal(row["lifetime_spend"]),
        order_count=row["order_count"],
        last_order_at=_timestamp(row["last_order_at"]),
        enrolled_at=_timestamp(row["enrolled_at"]),
        tags=tuple(_json(tags) or ()),
        referral_code=row["referral_code"],
        attributes=_json(row["attributes"]) or {},
        referred=bool(row["referred"]),
    )


def _decimal(value: Any) -> Decimal:
    # asyncpg decodes NUMERIC as Decimal already; SQLite hands back text or a float.
    return value if type(value) is Decimal else Decimal(str(value))


def _json(value: Any) -> Any:
    # asyncpg hands JSON columns back as text, like SQLite (no codec is registered).
    return json.loads(value) if isinstance(value, str) else value


def _timestamp(value: Any) -> Any:
    # asyncpg decodes timestamps; SQLite hands back the ISO text Tortoise stored.
    return datetime.fromisoformat(value) if isinstance(value, str) else value
