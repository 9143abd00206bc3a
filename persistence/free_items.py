"""Free items a rule's `free_item` gave an order: written with it, read back with it."""

from __future__ import annotations

from collections.abc import Sequence

from domain.program import FreeProduct
from persistence import sql
from persistence.rows import decimal_of
from persistence.statements import named


async def write_free_items(order_id: int, products: Sequence[FreeProduct]) -> None:
    if not products:
        return
    columns, values = sql.values_rows(
        [(order_id, p.rule_id, p.sku, p.quantity, p.value) for p in sorted(products, key=lambda p: p.rule_id)]
    )
    await sql.execute(
        "INSERT INTO order_free_items (order_id, rule_id, sku, quantity, value) VALUES " + columns, *values
    )


async def free_items_of(order_id: int) -> tuple[FreeProduct, ...]:
    rows = await sql.fetch_named(
        named("SELECT rule_id, sku, quantity, value FROM order_free_items WHERE order_id = :order_id ORDER BY id"),
        {"order_id": order_id},
    )
    return tuple(
        FreeProduct(row["sku"], row["rule_id"], int(row["quantity"]), decimal_of(row["value"])) for row in rows
    )
