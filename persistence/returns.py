"""What a return needs to read and write: the order as recorded, what came back before,
the entries to reverse, and the uses to give back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.money import minor_units
from domain.returns import OrderedLine, ValidReturn
from persistence import models, sql


@dataclass(frozen=True)
class OrderForReturn:
    id: int
    external_id: str
    customer_external_id: str
    currency: str
    subtotal: Decimal
    lines: tuple[OrderedLine, ...]
    program_currency: str
    program_subtotal: Decimal
    """What the order counted for as spend, in the program currency."""


@dataclass(frozen=True)
class StoredReturn:
    external_id: str
    order_external_id: str
    currency: str
    returned_amount: Decimal
    points_reversed: int
    request_hash: str
    points_unrecovered: int = 0
    """Points the return should have taken back but the customer had already spent."""


async def find_order(external_id: str) -> OrderForReturn | None:
    row = await models.Order.filter(external_id=external_id).select_related("customer").first()
    if row is None:
        return None
    lines = await models.OrderLine.filter(order_id=row.id).order_by("position")
    return OrderForReturn(
        id=row.id,
        external_id=row.external_id,
        customer_external_id=row.customer.external_id,
        currency=row.currency,
        subtotal=Decimal(row.subtotal),
        lines=tuple(OrderedLine(line.sku, line.quantity, Decimal(line.unit_price)) for line in lines),
        program_currency=row.program_currency or row.currency,
        program_subtotal=Decimal(row.program_subtotal if row.program_subtotal is not None else row.subtotal),
    )


async def find_return(external_id: str) -> StoredReturn | None:
    row = await models.OrderReturn.filter(external_id=external_id).select_related("order").first()
    if row is None:
        return None
    return StoredReturn(
        external_id=row.external_id,
        order_external_id=row.order.external_id,
        currency=row.order.currency,
        returned_amount=Decimal(row.returned_amount).quantize(Decimal(1).scaleb(-minor_units(row.order.currency))),
        points_reversed=row.points_reversed,
        request_hash=row.request_hash,
        points_unrecovered=row.points_unrecovered,
    )


async def returned_before(order_id: int) -> dict[str, int]:
    rows = await sql.fetch(
        "SELECT l.sku, SUM(l.quantity) AS quantity FROM order_return_lines l"
        " JOIN order_returns r ON r.id = l.order_return_id WHERE r.order_id = $1 GROUP BY l.sku",
        order_id,
    )
    return {row["sku"]: int(row["quantity"]) for row in rows}


@dataclass(frozen=True)
class EarnedPart:
    rule_id: str
    points: int
    rules_version: str | None
    available: bool
    """False while the earn entry is still pending (not yet released)."""


async def earned_by_order(order_id: int) -> list[EarnedPart]:
    return await _earned("order_id", order_id)


async def earned_by_event(event_id: int) -> list[EarnedPart]:
    """What an engagement event earned (a referral's reward, to take back)."""
    return await _earned("event_id", event_id)


async def _earned(column: str, value: int) -> list[EarnedPart]:
    assert column in ("order_id", "event_id"), column
    rows = await sql.fetch(
        "SELECT e.rule_id, e.points, e.rules_version, e.bucket,"
        " EXISTS (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id"
        " AND r.kind = 'release') AS released"
        f" FROM ledger_entries e WHERE e.{column} = $1 AND e.kind = 'earn' ORDER BY e.id",
        value,
    )
    return [
        EarnedPart(
            row["rule_id"], row["points"], row["rules_version"], row["bucket"] == "available" or bool(row["released"])
        )
        for row in rows
    ]


async def reversed_by_rule(order_id: int) -> dict[str, int]:
    rows = await sql.fetch(
        "SELECT rule_id, SUM(points) AS points FROM ledger_entries"
        " WHERE order_id = $1 AND kind = 'reverse' GROUP BY rule_id",
        order_id,
    )
    return {row["rule_id"]: -int(row["points"]) for row in rows}


async def insert_return(
    order_id: int, ret: ValidReturn, amount: Decimal, points: int, unrecovered: int, now: datetime
) -> None:
    [row] = await sql.fetch(
        "INSERT INTO order_returns (external_id, order_id, returned_amount, points_reversed, points_unrecovered,"
        " request_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        ret.external_id,
        order_id,
        amount,
        points,
        unrecovered,
        ret.request_hash,
        now,
    )
    columns, values = sql.values_rows([(row["id"], sku, qty) for sku, qty in sorted(ret.quantities.items())])
    await sql.execute("INSERT INTO order_return_lines (order_return_id, sku, quantity) VALUES " + columns, *values)


async def give_back_uses(order_id: int, customer_id: int, now: datetime) -> list[str]:
    """Append negative uses, dated like the uses they cancel, for every use the order
    still holds; budgets get their points back. Returns the rule ids given back."""
    rows = await sql.fetch(
        "SELECT rule_id, MIN(used_at) AS used_at, SUM(uses) AS uses, SUM(points) AS points"
        " FROM rule_uses WHERE order_id = $1 GROUP BY rule_id HAVING SUM(uses) > 0",
        order_id,
    )
    if not rows:
        return []
    columns, values = sql.values_rows(
        [
            (row["rule_id"], customer_id, order_id, -int(row["uses"]), -int(row["points"]), row["used_at"], now)
            for row in rows
        ]
    )
    await sql.execute(
        "INSERT INTO rule_uses (rule_id, customer_id, order_id, uses, points, used_at, created_at) VALUES " + columns,
        *values,
    )
    for row in sorted(rows, key=lambda r: r["rule_id"]):
        await sql.execute(
            "UPDATE rule_budgets SET points_awarded = points_awarded - $1 WHERE rule_id = $2",
            int(row["points"]),
            row["rule_id"],
        )
    return [row["rule_id"] for row in rows]
