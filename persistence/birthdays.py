"""Customers whose birthday it is, and the mark that they were wished it this year."""

from __future__ import annotations

from collections.abc import Sequence

from persistence import sql
from persistence.statements import named


async def due(days: Sequence[str], year: int, after_id: int, limit: int) -> list[tuple[int, str]]:
    """Customers born on one of `days` ('MM-DD') not yet wished a happy birthday in `year`."""
    month_day = "to_char(c.birthday, 'MM-DD')" if sql.on_postgres() else "strftime('%m-%d', c.birthday)"
    placeholders = ", ".join(f"${i + 1}" for i in range(len(days)))
    n = len(days)
    rows = await sql.fetch(
        f"SELECT c.id, c.external_id FROM customers c WHERE c.birthday IS NOT NULL"
        f" AND {month_day} IN ({placeholders}) AND (c.birthday_year IS NULL OR c.birthday_year < ${n + 1})"
        f" AND c.id > ${n + 2} ORDER BY c.id LIMIT ${n + 3}",
        *days,
        year,
        after_id,
        limit,
    )
    return [(row["id"], row["external_id"]) for row in rows]


async def mark(customer_id: int, year: int) -> bool:
    """False when another run marked this year first."""
    rows = await sql.fetch_named(
        named(
            "UPDATE customers SET birthday_year = :year WHERE id = :customer_id AND (birthday_year IS NULL OR"
            " birthday_year < :year)"
            " RETURNING id"
        ),
        {"year": year, "customer_id": customer_id},
    )
    return bool(rows)
