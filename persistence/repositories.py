"""Repositories: the use cases' view of the database, in domain types.

Call the write functions inside `transaction()`; each use case is one transaction.
"""

from __future__ import annotations

import json
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
from domain.orders import ValidOrder
from domain.program import PointsAward
from persistence import models, outbox, sql
from persistence.entries import earn_entries_of
from persistence.sql import IntegrityError

__all__ = ["IntegrityError", "transaction"]


def transaction() -> AbstractAsyncContextManager[None]:
    """One database transaction: every statement the task runs inside goes to it."""
    return sql.transaction()


def to_customer(row: models.Customer) -> Customer:
    return Customer(
        external_id=row.external_id,
        email=row.email,
        name=row.name,
        birthday=row.birthday,
        tier=row.tier,
        balance=Balance(row.points_available, row.points_pending, row.lifetime_earned),
        lifetime_spend=Decimal(row.lifetime_spend),
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


# ---- customers ----------------------------------------------------------------------------


async def insert_customer(
    data: EnrollmentInput, tier: str | None, now: datetime, *, own_code: str, referred_by: int | None = None
) -> models.Customer:
    return await models.Customer.create(
        external_id=data.external_id,
        email=data.email,
        name=data.name,
        birthday=data.birthday,
        tags=list(data.tags),
        attributes=dict(data.attributes),
        referral_code=own_code,
        referred_by_id=referred_by,
        tier=tier,
        enrolled_at=now,
    )


async def update_customer(
    row: models.Customer,
    *,
    email: str | None,
    name: str | None,
    tags: Sequence[str] | None,
    attributes: dict[str, object],
) -> None:
    """Writes the given profile fields (None: unchanged) on the locked row, and onto `row`."""
    changes: dict[str, object] = {"attributes": attributes}
    if email is not None:
        changes["email"] = email
    if name is not None:
        changes["name"] = name
    if tags is not None:
        changes["tags"] = list(tags)
    for name_, value in changes.items():
        setattr(row, name_, value)
    await row.save(update_fields=list(changes))


async def find_customer(external_id: str) -> models.Customer | None:
    return await models.Customer.get_or_none(external_id=external_id)


async def customers_by_external_ids(external_ids: Sequence[str]) -> dict[str, models.Customer]:
    rows = await models.Customer.filter(external_id__in=list(external_ids))
    return {row.external_id: row for row in rows}


async def read_customer(external_id: str, field: list[str]) -> models.Customer:
    rows = await sql.fetch("SELECT * FROM customers WHERE external_id = $1", external_id)
    if not rows:
        raise _customer_not_found(external_id, field)
    return models.Customer._init_from_db(**rows[0])


async def lock_customer(external_id: str, field: list[str]) -> models.Customer:
    """The customer row, locked until the transaction ends: every change to one customer's
    balance goes through this lock, so concurrent writers queue instead of racing.
    (SQLite has no row locks; Tortoise serialises its transactions instead.)"""
    lock = " FOR UPDATE" if sql.on_postgres() else ""
    rows = await sql.fetch(f"SELECT * FROM customers WHERE external_id = $1{lock}", external_id)
    if not rows:
        raise _customer_not_found(external_id, field)
    return models.Customer._init_from_db(**rows[0])


async def apply_entries(
    customer: models.Customer,
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
    if entries:
        columns, values = sql.values_rows(
            [
                (
                    customer.id,
                    entry.kind.value,
                    entry.bucket.value,
                    entry.points,
                    entry.reason,
                    entry.rule_id,
                    entry.rules_version,
                    order,
                    source,
                    now,
                    entry.available_at,
                    entry.expires_at,
                    entry.variant,
                )
                for entry in entries
            ]
        )
        await sql.execute(
            "INSERT INTO ledger_entries (customer_id, kind, bucket, points, reason, rule_id,"
            " rules_version, order_id, source, created_at, available_at, expires_at, variant) VALUES " + columns,
            *values,
        )
    return await move_balance(customer, entries, tier=tier, now=now, spend=spend, orders=orders)


async def move_balance(
    customer: models.Customer,
    entries: Sequence[NewEntry],
    *,
    tier: str | None,
    now: datetime | None = None,
    spend: Decimal = Decimal(0),
    orders: int = 0,
) -> Balance:
    """Move the cached balance by exactly the sum of entries already written (and the
    customer's tier, spend and order count with it); returns the balance after."""
    before = Balance(customer.points_available, customer.points_pending, customer.lifetime_earned)
    after = before.after(entries)
    delta = (
        after.available - before.available,
        after.pending - before.pending,
        after.lifetime_earned - before.lifetime_earned,
    )
    if delta != (0, 0, 0) or tier != customer.tier or orders or spend:
        await sql.execute(
            "UPDATE customers SET points_available = points_available + $1,"
            " points_pending = points_pending + $2, lifetime_earned = lifetime_earned + $3,"
            " tier = $4, order_count = order_count + $5, lifetime_spend = lifetime_spend + $6,"
            " last_order_at = CASE WHEN $7 > 0 THEN $8 ELSE last_order_at END WHERE id = $9",
            *delta,
            tier,
            orders,
            spend,
            orders,
            now,
            customer.id,
        )
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


async def find_order(external_id: str) -> StoredOrder | None:
    row = await models.Order.filter(external_id=external_id).select_related("customer").first()
    if row is None:
        return None
    return replace(_stored_order(row), awards=earned_awards(await earn_entries_of(order_id=row.id)))


def _stored_order(row: models.Order) -> StoredOrder:
    # Columns keep 4 decimals for every currency; amounts leave in the currency's own.
    exponent = Decimal(1).scaleb(-minor_units(row.currency))
    return StoredOrder(
        external_id=row.external_id,
        customer_external_id=row.customer.external_id,
        currency=row.currency,
        placed_at=row.placed_at,
        subtotal=Decimal(row.subtotal).quantize(exponent),
        shipping_amount=Decimal(row.shipping_amount).quantize(exponent),
        points_earned=row.points_earned,
        rules_version=row.rules_version,
        request_hash=row.request_hash,
        program_currency=row.program_currency or row.currency,
        program_subtotal=Decimal(row.program_subtotal if row.program_subtotal is not None else row.subtotal).quantize(
            Decimal(1).scaleb(-minor_units(row.program_currency or row.currency))
        ),
        exchange_rate=Decimal(row.exchange_rate if row.exchange_rate is not None else 1).normalize(),
    )


async def insert_order(
    customer: models.Customer,
    order: ValidOrder,
    *,
    points: int,
    rules_version: str,
    now: datetime,
) -> tuple[int, StoredOrder]:
    row_values, stored = new_order_row(customer, order, points=points, rules_version=rules_version, now=now)
    # No existence check first: the unique index on external_id refuses a replay, which
    # then rolls back and is answered from the stored order.
    [row] = await sql.fetch(
        "INSERT INTO orders ("
        + ORDER_COLUMNS
        + ") VALUES ("
        + ", ".join(f"${n}" for n in range(1, len(row_values) + 1))
        + ") RETURNING id",
        *row_values,
    )
    order_id = row["id"]
    columns, values = sql.values_rows(
        [
            (order_id, index, line.sku, line.category, line.quantity, line.unit_price)
            for index, line in enumerate(order.facts.lines)
        ]
    )
    await sql.execute(
        "INSERT INTO order_lines (order_id, position, sku, category, quantity, unit_price) VALUES " + columns,
        *values,
    )
    return order_id, stored


ORDER_COLUMNS = (
    "external_id, customer_id, currency, placed_at, subtotal, shipping_amount,"
    " coupon_codes, points_earned, rules_version, request_hash, created_at,"
    " program_currency, program_subtotal, exchange_rate"
)


def new_order_row(
    customer: models.Customer, order: ValidOrder, *, points: int, rules_version: str, now: datetime
) -> tuple[tuple[Any, ...], StoredOrder]:
    """A new order's values for ORDER_COLUMNS, in that order, and the order as stored:
    the same for every database's way of writing it."""
    facts = order.facts
    # In UTC, as the database gives it back, so that a replay answers the same instant alike.
    placed_at = sql.as_utc(order.placed_at or now)
    values = (
        order.external_id,
        customer.id,
        facts.currency,
        placed_at,
        facts.subtotal,
        facts.shipping_amount,
        json.dumps(sorted(facts.coupon_codes)),
        points,
        rules_version,
        order.request_hash,
        now,
        order.converted.program_currency,
        order.converted.subtotal,
        order.converted.rate,
    )
    stored = StoredOrder(
        external_id=order.external_id,
        customer_external_id=customer.external_id,
        currency=facts.currency,
        placed_at=placed_at,
        subtotal=facts.subtotal,
        shipping_amount=facts.shipping_amount,
        points_earned=points,
        rules_version=rules_version,
        request_hash=order.request_hash,
        program_currency=order.converted.program_currency,
        program_subtotal=order.converted.subtotal,
        exchange_rate=order.converted.rate,
    )
    return values, stored


# ---- ledger -------------------------------------------------------------------------------


async def ledger_sums(customer_external_id: str) -> Balance:
    """The balance recomputed from the entries themselves (for audits and tests)."""
    rows = await models.LedgerEntry.filter(customer__external_id=customer_external_id).values_list(
        "kind", "bucket", "points"
    )
    available = sum(p for _, b, p in rows if b == "available")
    pending = sum(p for _, b, p in rows if b == "pending")
    lifetime = sum(p for k, _, p in rows if k in ("earn", "reverse"))
    return Balance(available, pending, lifetime)


# ---- events -------------------------------------------------------------------------------


async def add_events(
    events: Sequence[tuple[str, str | None, dict]], now: datetime, rules_version: str | None = None
) -> None:
    await outbox.add_events(events, now, rules_version)


# ---- rules versions -----------------------------------------------------------------------


async def save_rules_version(version: str, sources: dict[str, str], now: datetime) -> None:
    if not await models.RulesVersion.exists(version=version):
        try:
            await models.RulesVersion.create(version=version, sources=sources, created_at=now)
        except IntegrityError:
            pass  # another worker stored the same version first


async def rules_version_sources(version: str) -> dict[str, str] | None:
    row = await models.RulesVersion.get_or_none(version=version)
    return dict(row.sources) if row else None


async def rules_version_stored_at(version: str) -> datetime | None:
    """When this version was first stored, i.e. first activated by any worker."""
    row = await models.RulesVersion.get_or_none(version=version).only("version", "created_at")
    return row.created_at if row else None
