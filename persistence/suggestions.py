"""Learned "bought together" pairs: rebuilt from order lines in one statement, read per cart."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from persistence import sql
from persistence.statements import Statement

# Set-based on purpose: the database joins each order's lines with themselves and counts
# the orders per pair, whatever the history's size; nothing goes through Python. Both ways
# round (A with B, B with A), so a cart is looked up by its own skus alone.
_REBUILD = Statement("""
INSERT INTO learned_pairs (sku, category, suggested_sku, suggested_category, orders, refreshed_at)
SELECT a.sku, MAX(a.category), b.sku, MAX(b.category), COUNT(DISTINCT a.order_id), :now
FROM order_lines a JOIN order_lines b ON b.order_id = a.order_id AND b.sku <> a.sku
GROUP BY a.sku, b.sku
HAVING COUNT(DISTINCT a.order_id) >= :min_support
""")


async def rebuild(min_support: int, now: datetime) -> int:
    """Replaces every pair (call inside a transaction: readers see the old set or the new
    one); returns how many pairs there are now."""
    await sql.execute("DELETE FROM learned_pairs")
    await sql.execute_named(_REBUILD, {"now": now, "min_support": min_support})
    [row] = await sql.fetch("SELECT COUNT(*) AS n FROM learned_pairs")
    return int(row["n"])


@dataclass(frozen=True)
class LearnedPick:
    sku: str
    orders: int
    """Orders that held it with one of the cart's skus (summed over those skus)."""


async def bought_with(
    skus: Collection[str],
    *,
    not_skus: Collection[str],
    not_categories: Collection[str],
    limit: int,
) -> list[LearnedPick]:
    """What was most often bought with these skus, none of `not_skus` (the cart, the
    excluded) and no sku whose category is excluded; ties by sku, so answers are stable."""
    if not skus:
        return []
    values: list[object] = []

    def marks(items: Collection[str]) -> str:
        start = len(values)
        values.extend(sorted(items))
        return ", ".join(f"${start + i + 1}" for i in range(len(items)))

    where = [f"sku IN ({marks(skus)})"]
    if not_skus:
        where.append(f"suggested_sku NOT IN ({marks(not_skus)})")
    if not_categories:
        where.append(f"(suggested_category IS NULL OR suggested_category NOT IN ({marks(not_categories)}))")
    values.append(limit)
    rows = await sql.fetch(
        "SELECT suggested_sku, SUM(orders) AS orders FROM learned_pairs WHERE "
        + " AND ".join(where)
        + f" GROUP BY suggested_sku ORDER BY SUM(orders) DESC, suggested_sku LIMIT ${len(values)}",
        *values,
    )
    return [LearnedPick(row["suggested_sku"], int(row["orders"])) for row in rows]
