"""What a return needs to read and write: the order as recorded, what came back before,
the entries to reverse, and the uses to give back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.money import minor_units
from domain.returns import OrderedLine, ValidReturn
from persistence import sql
from persistence.rows import decimal_of
from persistence.rule_uses import insert_uses, move_program_counter, use_row
from persistence.statements import named


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
    rows = await sql.fetch_named(
        named(
            "SELECT o.id, o.external_id, c.external_id AS customer_external_id, o.currency, o.subtotal,"
            " o.program_currency, o.program_subtotal FROM orders o JOIN customers c ON c.id = o.customer_id"
            " WHERE o.external_id = :external_id"
        ),
        {"external_id": external_id},
    )
    if not rows:
        return None
    row = rows[0]
    lines = await sql.fetch_named(
        named("SELECT sku, quantity, unit_price FROM order_lines WHERE order_id = :id ORDER BY position"),
        {"id": row["id"]},
    )
    subtotal = decimal_of(row["subtotal"])
    return OrderForReturn(
        id=row["id"],
        external_id=row["external_id"],
        customer_external_id=row["customer_external_id"],
        currency=row["currency"],
        subtotal=subtotal,
        lines=tuple(OrderedLine(line["sku"], line["quantity"], decimal_of(line["unit_price"])) for line in lines),
        program_currency=row["program_currency"] or row["currency"],
        program_subtotal=subtotal if row["program_subtotal"] is None else decimal_of(row["program_subtotal"]),
    )


async def find_return(external_id: str) -> StoredReturn | None:
    rows = await sql.fetch_named(
        named(
            "SELECT r.external_id, o.external_id AS order_external_id, o.currency, r.returned_amount,"
            " r.points_reversed, r.request_hash, r.points_unrecovered FROM order_returns r"
            " JOIN orders o ON o.id = r.order_id WHERE r.external_id = :external_id"
        ),
        {"external_id": external_id},
    )
    if not rows:
        return None
    row = rows[0]
    return StoredReturn(
        external_id=row["external_id"],
        order_external_id=row["order_external_id"],
        currency=row["currency"],
        returned_amount=decimal_of(row["returned_amount"]).quantize(Decimal(1).scaleb(-minor_units(row["currency"]))),
        points_reversed=row["points_reversed"],
        request_hash=row["request_hash"],
        points_unrecovered=row["points_unrecovered"],
    )


async def returned_before(order_id: int) -> dict[str, int]:
    rows = await sql.fetch_named(
        named(
            "SELECT l.sku, SUM(l.quantity) AS quantity FROM order_return_lines l"
            " JOIN order_returns r ON r.id = l.order_return_id WHERE r.order_id = :order_id GROUP BY l.sku"
        ),
        {"order_id": order_id},
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
    rows = await sql.fetch_named(
        named(
            "SELECT e.rule_id, e.points, e.rules_version, e.bucket,"
            " EXISTS (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id"
            " AND r.kind = 'release') AS released"
            f" FROM ledger_entries e WHERE e.{column} = :value AND e.kind = 'earn' ORDER BY e.id"
        ),
        {"value": value},
    )
    return [
        EarnedPart(
            row["rule_id"], row["points"], row["rules_version"], row["bucket"] == "available" or bool(row["released"])
        )
        for row in rows
    ]


async def reversed_by_rule(order_id: int) -> dict[str, int]:
    rows = await sql.fetch_named(
        named(
            "SELECT rule_id, SUM(points) AS points FROM ledger_entries"
            " WHERE order_id = :order_id AND kind = 'reverse' GROUP BY rule_id"
        ),
        {"order_id": order_id},
    )
    return {row["rule_id"]: -int(row["points"]) for row in rows}


async def insert_return(
    order_id: int, ret: ValidReturn, amount: Decimal, points: int, unrecovered: int, now: datetime
) -> None:
    [row] = await sql.fetch_named(
        named(
            "INSERT INTO order_returns (external_id, order_id, returned_amount, points_reversed, points_unrecovered,"
            " request_hash, created_at) VALUES (:external_id, :order_id, :amount, :points, :unrecovered,"
            " :request_hash, :now) RETURNING id"
        ),
        {
            "external_id": ret.external_id,
            "order_id": order_id,
            "amount": amount,
            "points": points,
            "unrecovered": unrecovered,
            "request_hash": ret.request_hash,
            "now": now,
        },
    )
    columns, values = sql.values_rows([(row["id"], sku, qty) for sku, qty in sorted(ret.quantities.items())])
    await sql.execute("INSERT INTO order_return_lines (order_return_id, sku, quantity) VALUES " + columns, *values)


async def give_back_uses(order_id: int, customer_id: int, now: datetime) -> list[str]:
    """Append negative uses, dated like the uses they cancel, for every use the order
    still holds (per counter and value); budgets and program caps get their points,
    discounts and uses back. Returns the counter keys given back."""
    rows = await sql.fetch_named(
        named(
            "SELECT rule_id, scope, MIN(used_at) AS used_at, SUM(uses) AS uses, SUM(points) AS points,"
            " SUM(amount) AS amount FROM rule_uses WHERE order_id = :order_id GROUP BY rule_id, scope HAVING"
            " SUM(uses) > 0"
        ),
        {"order_id": order_id},
    )
    if not rows:
        return []
    await insert_uses(
        [
            use_row(
                row["rule_id"],
                customer_id,
                -int(row["uses"]),
                -int(row["points"]),
                used_at=row["used_at"],
                now=now,
                order_id=order_id,
                amount=-decimal_of(row["amount"]),
                scope=row["scope"],
            )
            for row in rows
        ]
    )
    for row in sorted(rows, key=lambda r: (r["rule_id"], r["scope"] or "")):
        await move_program_counter(row["rule_id"], -int(row["uses"]), -int(row["points"]), -decimal_of(row["amount"]))
    return sorted({row["rule_id"] for row in rows})
