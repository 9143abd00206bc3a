"""Live carts (`updateCart`), their abandonment by the job, and their closing by an order.

Every change of a cart's state is one statement guarded by the state it expects, so that
two runners, or a runner and a store's update or order, never both win: on PostgreSQL the
second waits for the first's row lock and then finds the cart no longer as it expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.money import minor_units
from persistence import sql
from persistence.rows import json_of, json_text, moment_of
from persistence.statements import Statement, named

OPEN, ABANDONED, ORDERED, RECOVERED = "open", "abandoned", "ordered", "recovered"

_UPSERT = Statement(
    """
INSERT INTO carts (cart_id, customer_id, currency, lines, subtotal, program_subtotal, state, revision,
                   abandonments, created_at, updated_at)
VALUES (:cart_id, :customer_id, :currency, :lines, :subtotal, :program_subtotal, 'open', 1, 0, :now, :now)
ON CONFLICT (cart_id) DO UPDATE SET
  currency = excluded.currency, lines = excluded.lines, subtotal = excluded.subtotal,
  program_subtotal = excluded.program_subtotal, state = 'open', revision = carts.revision + 1,
  updated_at = excluded.updated_at
WHERE carts.customer_id = excluded.customer_id AND carts.state IN ('open', 'abandoned')
RETURNING id, revision, abandonments
"""
)

_DUE = Statement(
    """
SELECT k.id, k.cart_id, k.revision, k.currency, k.lines, k.subtotal, k.updated_at, c.external_id
FROM carts k JOIN customers c ON c.id = k.customer_id
WHERE k.state = 'open' AND k.updated_at <= :cutoff AND k.id > :after_id
ORDER BY k.id LIMIT :limit
"""
)

_ABANDON = Statement(
    """
UPDATE carts SET state = 'abandoned', abandoned_at = :now, abandonments = abandonments + 1
WHERE id = :id AND state = 'open' AND revision = :revision
RETURNING id
"""
)

_CLOSE = Statement(
    """
UPDATE carts SET state = CASE WHEN abandonments > 0 THEN 'recovered' ELSE 'ordered' END,
  closed_at = :now, order_id = :order_id
WHERE cart_id = :cart_id AND customer_id = :customer_id AND state IN ('open', 'abandoned')
RETURNING state
"""
)


@dataclass(frozen=True)
class StoredCart:
    cart_id: str
    customer_external_id: str
    state: str
    currency: str
    lines: list[dict[str, Any]]
    subtotal: Decimal
    revision: int
    abandonments: int
    updated_at: datetime
    abandoned_at: datetime | None
    closed_at: datetime | None
    order_external_id: str | None


@dataclass(frozen=True)
class DueCart:
    id: int
    cart_id: str
    revision: int
    customer_external_id: str
    currency: str
    lines: list[dict[str, Any]]
    subtotal: Decimal
    updated_at: datetime


async def upsert(
    cart_id: str,
    customer_id: int,
    currency: str,
    lines: list[dict[str, Any]],
    subtotal: Decimal,
    program_subtotal: Decimal,
    now: datetime,
) -> bool:
    """The cart with these lines, open; False when the id names another customer's cart or
    one an order closed (nothing is written then)."""
    rows = await sql.fetch_named(
        _UPSERT,
        {
            "cart_id": cart_id,
            "customer_id": customer_id,
            "currency": currency,
            "lines": json_text(lines),
            "subtotal": subtotal,
            "program_subtotal": program_subtotal,
            "now": now,
        },
    )
    return bool(rows)


async def due(cutoff: datetime, after_id: int, limit: int) -> list[DueCart]:
    """Open carts last updated at or before `cutoff`, by id after `after_id`."""
    rows = await sql.fetch_named(_DUE, {"cutoff": cutoff, "after_id": after_id, "limit": limit})
    return [
        DueCart(
            id=row["id"],
            cart_id=row["cart_id"],
            revision=row["revision"],
            customer_external_id=row["external_id"],
            currency=row["currency"],
            lines=json_of(row["lines"]),
            subtotal=_amount(row["subtotal"], row["currency"]),
            updated_at=moment_of(row["updated_at"]),
        )
        for row in rows
    ]


async def abandon(cart: DueCart, now: datetime) -> bool:
    """False when another runner abandoned it first, or the store updated it meanwhile."""
    return bool(await sql.fetch_named(_ABANDON, {"id": cart.id, "revision": cart.revision, "now": now}))


async def close(cart_id: str, customer_id: int, order_id: int, now: datetime) -> str | None:
    """Closes the customer's open or abandoned cart for an order: its new state
    ('ordered' or 'recovered'), or None when there was no such cart."""
    rows = await sql.fetch_named(
        _CLOSE, {"cart_id": cart_id, "customer_id": customer_id, "order_id": order_id, "now": now}
    )
    return rows[0]["state"] if rows else None


async def find(cart_id: str) -> StoredCart | None:
    rows = await sql.fetch_named(
        named(
            "SELECT k.cart_id, k.state, k.currency, k.lines, k.subtotal, k.revision, k.abandonments, k.updated_at,"
            " k.abandoned_at, k.closed_at, c.external_id, o.external_id AS order_external_id"
            " FROM carts k JOIN customers c ON c.id = k.customer_id LEFT JOIN orders o ON o.id = k.order_id"
            " WHERE k.cart_id = :cart_id"
        ),
        {"cart_id": cart_id},
    )
    if not rows:
        return None
    row = rows[0]
    return StoredCart(
        cart_id=row["cart_id"],
        customer_external_id=row["external_id"],
        state=row["state"],
        currency=row["currency"],
        lines=json_of(row["lines"]),
        subtotal=_amount(row["subtotal"], row["currency"]),
        revision=row["revision"],
        abandonments=row["abandonments"],
        updated_at=moment_of(row["updated_at"]),
        abandoned_at=moment_of(row["abandoned_at"]),
        closed_at=moment_of(row["closed_at"]),
        order_external_id=row["order_external_id"],
    )


async def states(since: datetime, until: datetime) -> dict[str, int]:
    """Carts by state among those created in [since, until) (abandoned vs recovered)."""
    rows = await sql.fetch_named(
        named(
            "SELECT state, COUNT(*) AS n FROM carts WHERE created_at >= :since AND created_at < :until GROUP BY state"
        ),
        {"since": since, "until": until},
    )
    return {row["state"]: int(row["n"]) for row in rows}


def _amount(value: object, currency: str) -> Decimal:
    """As the store sent it: the column keeps four decimals, the currency fewer."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-minor_units(currency)))
