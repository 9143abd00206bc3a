"""An order's lines and shipping country, as recorded: what the rules saw of it besides its
amounts (persistence.order_writes writes them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.money import minor_units
from persistence import sql
from persistence.statements import named


@dataclass(frozen=True)
class StoredLine:
    sku: str
    category: str | None
    quantity: int
    unit_price: Decimal
    """In the order's own currency."""
    tags: tuple[str, ...]


@dataclass(frozen=True)
class OrderDetails:
    currency: str
    country: str | None
    lines: tuple[StoredLine, ...]


async def order_details(external_id: str) -> OrderDetails | None:
    rows = await sql.fetch_named(
        named(
            "SELECT o.currency, o.country, l.sku, l.category, l.quantity, l.unit_price, l.tags"
            " FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id WHERE o.external_id = :external_id"
            " ORDER BY l.position"
        ),
        {"external_id": external_id},
    )
    if not rows:
        return None
    currency = rows[0]["currency"]
    # Columns keep 4 decimals for every currency; amounts leave in the currency's own.
    exponent = Decimal(1).scaleb(-minor_units(currency))
    lines = tuple(
        StoredLine(
            sku=row["sku"],
            category=row["category"],
            quantity=int(row["quantity"]),
            unit_price=Decimal(str(row["unit_price"])).quantize(exponent),
            tags=tuple(_tags(row["tags"])),
        )
        for row in rows
        if row["sku"] is not None
    )
    return OrderDetails(currency=currency, country=rows[0]["country"], lines=lines)


def _tags(value: Any) -> list[str]:
    # NULL: a line recorded before tags were kept. asyncpg and SQLite both hand JSON back as text.
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)
