"""Repositories: the use cases' view of the database, in domain types.

Call the write functions inside `transaction()`; each use case is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.customers import Customer, EnrollmentInput
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance, NewEntry, earned_awards
from domain.money import minor_units
from domain.program import FreeProduct, PointsAward
from persistence import outbox, sql
from persistence.entries import LinkedEntry, counts_as_earned, earn_entries_of, insert_entries
from persistence.free_items import free_items_of
from persistence.rows import CustomerRow, customer_row, decimal_of, json_of, json_text, moment_of
from persistence.sql import IntegrityError
from persistence.statements import Statement, insert, named
from persistence.tables import CUSTOMERS

__all__ = ["CustomerRow", "IntegrityError", "transaction"]


def transaction() -> AbstractAsyncContextManager[None]:
    """One database transaction: every statement the task runs inside goes to it."""
    return sql.transaction()


def to_customer(row: CustomerRow) -> Customer:
    return Customer(
        external_id=row.external_id,
        email=row.email,
        name=row.name,
        birthday=row.birthday,
        tier=row.tier,
        balance=Balance(row.points_available, row.points_pending, row.lifetime_earned),
        lifetime_spend=row.lifetime_spend,
        order_count=row.order_count,
        last_order_at=row.last_order_at,
        enrolled_at=row.enrolled_at,
        tags=tuple(row.tags or ()),
        referral_code=row.referral_code,
        attributes=dict(row.attributes or {}),
        referred=row.referred_by_id is not None,
    )


def _customer_not_found(external_id: str, field: list[str]) -> DomainError:
    return DomainError(ErrorCode.CUSTOMER_NOT_FOUND, f"No customer has the external id '{external_id}'.", field)


# The customer's cached figures: what the ledger sums to, the spend and the orders, kept
# in the transaction of every write that moves them (MOVE_BALANCE).
BALANCE_COLUMNS = ("points_available", "points_pending", "lifetime_earned", "lifetime_spend", "order_count")


# ---- customers ----------------------------------------------------------------------------


# What a customer starts with, however enrolled (here, or by an import): no points, no
# spend, no orders.
NEW_CUSTOMER = {column: "0" for column in BALANCE_COLUMNS}
_INSERT_CUSTOMER = insert(
    CUSTOMERS,
    (
        "external_id",
        "email",
        "name",
        "birthday",
        "tags",
        "attributes",
        "referral_code",
        "referred_by_id",
        "tier",
        "enrolled_at",
    ),
    fixed=NEW_CUSTOMER,
    returning="*",
)


async def insert_customer(
    data: EnrollmentInput, tier: str | None, now: datetime, *, own_code: str, referred_by: int | None = None
) -> CustomerRow:
    [row] = await sql.fetch_named(
        _INSERT_CUSTOMER,
        {
            "external_id": data.external_id,
            "email": data.email,
            "name": data.name,
            "birthday": data.birthday,
            "tags": json_text(list(data.tags)),
            "attributes": json_text(dict(data.attributes)),
            "referral_code": own_code,
            "referred_by_id": referred_by,
            "tier": tier,
            "enrolled_at": now,
        },
    )
    return customer_row(row)


async def update_customer(
    row: CustomerRow,
    *,
    email: str | None,
    name: str | None,
    tags: Sequence[str] | None,
    attributes: dict[str, object],
) -> None:
    """Writes the given profile fields (None: unchanged) on the locked row, and onto `row`."""
    row.attributes = dict(attributes)
    values: dict[str, object] = {"attributes": json_text(row.attributes)}
    if email is not None:
        row.email = values["email"] = email
    if name is not None:
        row.name = values["name"] = name
    if tags is not None:
        row.tags = list(tags)
        values["tags"] = json_text(row.tags)
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(values, start=1))
    await sql.execute(f"UPDATE customers SET {assignments} WHERE id = ${len(values) + 1}", *values.values(), row.id)


# Read on every order (the customer whose facts the rules see): made once.
_CUSTOMER = Statement("SELECT * FROM customers WHERE external_id = :external_id")
_LOCK_CUSTOMER = Statement("SELECT * FROM customers WHERE external_id = :external_id FOR UPDATE")


async def find_customer(external_id: str) -> CustomerRow | None:
    rows = await sql.fetch_named(_CUSTOMER, {"external_id": external_id})
    return customer_row(rows[0]) if rows else None


# Ids per statement: well inside both databases' limits on parameters.
_IDS_PER_STATEMENT = 500


async def customers_by_external_ids(external_ids: Sequence[str]) -> dict[str, CustomerRow]:
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, CustomerRow] = {}
    for start in range(0, len(wanted), _IDS_PER_STATEMENT):
        chunk = wanted[start : start + _IDS_PER_STATEMENT]
        placeholders = ", ".join(f"${n}" for n in range(1, len(chunk) + 1))
        for row in await sql.fetch(f"SELECT * FROM customers WHERE external_id IN ({placeholders})", *chunk):
            found[row["external_id"]] = customer_row(row)
    return found


async def read_customer(external_id: str, field: list[str]) -> CustomerRow:
    rows = await sql.fetch_named(_CUSTOMER, {"external_id": external_id})
    if not rows:
        raise _customer_not_found(external_id, field)
    return customer_row(rows[0])


async def lock_customer(external_id: str, field: list[str]) -> CustomerRow:
    """The customer row, locked until the transaction ends: every change to one customer's
    balance goes through this lock, so concurrent writers queue instead of racing.
    (SQLite has no row locks; Tortoise serialises its transactions instead.)"""
    rows = await sql.fetch_named(_LOCK_CUSTOMER if sql.on_postgres() else _CUSTOMER, {"external_id": external_id})
    if not rows:
        raise _customer_not_found(external_id, field)
    return customer_row(rows[0])


async def apply_entries(
    customer: CustomerRow,
    entries: Sequence[NewEntry],
    *,
    now: datetime,
    order: int | None = None,
    source: str | None = None,
    tier: str | None = None,
    spend: Decimal = Decimal(0),
    orders: int = 0,
) -> Balance:
    """Append entries and move the cached balance by exactly their sum."""
    await insert_entries(customer.id, [LinkedEntry(e) for e in entries], now=now, order_id=order, source=source)
    return await move_balance(customer, entries, tier=tier, now=now, spend=spend, orders=orders)


# How a write moves the customer's cached figures: the balance by what its entries add,
# and the tier, order count, spend and last order with it. The order write on PostgreSQL
# runs the same assignments, guarded (persistence.order_writes).
MOVE_BALANCE = (
    "points_available = points_available + :add_available, points_pending = points_pending + :add_pending,"
    " lifetime_earned = lifetime_earned + :add_lifetime, tier = :tier, order_count = order_count + :add_orders,"
    " lifetime_spend = lifetime_spend + :add_spend,"
    " last_order_at = CASE WHEN :add_orders > 0 THEN :last_order_at ELSE last_order_at END"
)
_MOVE_BALANCE = Statement(f"UPDATE customers SET {MOVE_BALANCE} WHERE id = :customer_id")


def balance_move(
    customer: CustomerRow,
    entries: Sequence[NewEntry],
    *,
    tier: str | None,
    now: datetime | None,
    spend: Decimal,
    orders: int,
) -> tuple[Balance, dict[str, Any]]:
    """The balance after the entries, and MOVE_BALANCE's parameters."""
    before = Balance(customer.points_available, customer.points_pending, customer.lifetime_earned)
    after = before.after(entries)
    return after, {
        "add_available": after.available - before.available,
        "add_pending": after.pending - before.pending,
        "add_lifetime": after.lifetime_earned - before.lifetime_earned,
        "tier": tier,
        "add_orders": orders,
        "add_spend": spend,
        "last_order_at": now,
    }


async def move_balance(
    customer: CustomerRow,
    entries: Sequence[NewEntry],
    *,
    tier: str | None,
    now: datetime | None = None,
    spend: Decimal = Decimal(0),
    orders: int = 0,
) -> Balance:
    """Move the cached balance by exactly the sum of entries already written (and the
    customer's tier, spend and order count with it); returns the balance after."""
    after, params = balance_move(customer, entries, tier=tier, now=now, spend=spend, orders=orders)
    moved = (params["add_available"], params["add_pending"], params["add_lifetime"]) != (0, 0, 0)
    if moved or tier != customer.tier or orders or spend:
        await sql.execute_named(_MOVE_BALANCE, {**params, "customer_id": customer.id})
    return after


# ---- orders -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredOrder:
    external_id: str
    customer_external_id: str
    currency: str
    placed_at: datetime
    subtotal: Decimal
    shipping_amount: Decimal
    points_earned: int
    rules_version: str
    request_hash: str
    program_currency: str
    program_subtotal: Decimal
    """The subtotal converted to the program currency: what counted as spend."""
    exchange_rate: Decimal
    awards: tuple[PointsAward, ...] = ()
    """What each rule earned, as the order's earn entries record it."""
    free_items: tuple[FreeProduct, ...] = ()
    """What the rules' free_item gave it."""


_ORDER = Statement(
    "SELECT o.*, c.external_id AS customer_external_id FROM orders o"
    " JOIN customers c ON c.id = o.customer_id WHERE o.external_id = :external_id"
)


async def find_order(external_id: str) -> StoredOrder | None:
    rows = await sql.fetch_named(_ORDER, {"external_id": external_id})
    if not rows:
        return None
    row = rows[0]
    awards = earned_awards(await earn_entries_of(order_id=row["id"]))
    return replace(_stored_order(row), awards=awards, free_items=await free_items_of(row["id"]))


def _stored_order(row: dict[str, Any]) -> StoredOrder:
    # Columns keep 4 decimals for every currency; amounts leave in the currency's own.
    currency = row["currency"]
    program_currency = row["program_currency"] or currency
    subtotal = decimal_of(row["subtotal"])
    program_subtotal = row["program_subtotal"]
    rate = row["exchange_rate"]
    return StoredOrder(
        external_id=row["external_id"],
        customer_external_id=row["customer_external_id"],
        currency=currency,
        placed_at=moment_of(row["placed_at"]),
        subtotal=subtotal.quantize(_quantum(currency)),
        shipping_amount=decimal_of(row["shipping_amount"]).quantize(_quantum(currency)),
        points_earned=row["points_earned"],
        rules_version=row["rules_version"],
        request_hash=row["request_hash"],
        program_currency=program_currency,
        program_subtotal=(subtotal if program_subtotal is None else decimal_of(program_subtotal)).quantize(
            _quantum(program_currency)
        ),
        exchange_rate=(Decimal(1) if rate is None else decimal_of(rate, 12)).normalize(),
    )


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


# ---- ledger -------------------------------------------------------------------------------


async def ledger_sums(customer_external_id: str) -> Balance:
    """The balance recomputed from the entries themselves (for audits and tests)."""
    rows = await sql.fetch_named(
        named(
            f"SELECT e.bucket, e.points, {counts_as_earned('e')} AS earned"
            " FROM ledger_entries e JOIN customers c ON c.id = e.customer_id WHERE c.external_id ="
            " :customer_external_id"
        ),
        {"customer_external_id": customer_external_id},
    )
    available = sum(r["points"] for r in rows if r["bucket"] == "available")
    pending = sum(r["points"] for r in rows if r["bucket"] == "pending")
    lifetime = sum(r["points"] for r in rows if r["earned"])
    return Balance(available, pending, lifetime)


# ---- events -------------------------------------------------------------------------------


async def add_events(
    events: Sequence[tuple[str, str | None, dict]], now: datetime, rules_version: str | None = None
) -> None:
    await outbox.add_events(events, now, rules_version)


# ---- rules versions -----------------------------------------------------------------------


async def save_rules_version(version: str, sources: dict[str, str], now: datetime) -> None:
    # Another worker may store the same version first: its row stands, and no error
    # aborts the caller's transaction.
    await sql.execute_named(
        named(
            "INSERT INTO rules_versions (version, sources, created_at) VALUES (:version, :sources, :now)"
            " ON CONFLICT (version) DO NOTHING"
        ),
        {"version": version, "sources": json_text(sources), "now": now},
    )


async def rules_version_sources(version: str) -> dict[str, str] | None:
    rows = await sql.fetch_named(
        named("SELECT sources FROM rules_versions WHERE version = :version"), {"version": version}
    )
    return dict(json_of(rows[0]["sources"])) if rows else None


async def rules_version_stored_at(version: str) -> datetime | None:
    """When this version was first stored, i.e. first activated by any worker."""
    rows = await sql.fetch_named(
        named("SELECT created_at FROM rules_versions WHERE version = :version"), {"version": version}
    )
    return moment_of(rows[0]["created_at"]) if rows else None
