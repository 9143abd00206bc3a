"""What a return needs to read and write: the order as recorded, what came back before,
the entries to reverse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.money import minor_units
from domain.returns import OrderedLine, ValidReturn
from persistence.repository import Repository
from persistence.statements import RowsInsert, Statement, insert
from persistence.tables import ORDER_LINES, ORDER_RETURN_LINES, ORDER_RETURNS, ORDERS, record


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


@dataclass(frozen=True)
class EarnedPart:
    rule_id: str
    points: int
    rules_version: str | None
    available: bool
    """False while the earn entry is still pending (not yet released)."""


_ORDER = Statement(
    "SELECT o.id, o.external_id, o.currency, o.subtotal, o.program_currency, o.program_subtotal,"
    " c.external_id AS customer_external_id"
    " FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.external_id = :external_id"
)
_LINES = Statement("SELECT sku, quantity, unit_price FROM order_lines WHERE order_id = :order_id ORDER BY position")
_RETURN = Statement(
    "SELECT r.*, o.external_id AS order_external_id, o.currency FROM order_returns r"
    " JOIN orders o ON o.id = r.order_id WHERE r.external_id = :external_id"
)
_RETURNED_BEFORE = Statement(
    "SELECT l.sku, SUM(l.quantity) AS quantity FROM order_return_lines l"
    " JOIN order_returns r ON r.id = l.order_return_id WHERE r.order_id = :order_id GROUP BY l.sku"
)
_EARNED = Statement(
    "SELECT e.rule_id, e.points, e.rules_version, e.bucket,"
    " EXISTS (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id"
    " AND r.kind = 'release') AS released"
    " FROM ledger_entries e WHERE e.order_id = :order_id AND e.kind = 'earn' ORDER BY e.id"
)
_REVERSED = Statement(
    "SELECT rule_id, SUM(points) AS points FROM ledger_entries"
    " WHERE order_id = :order_id AND kind = 'reverse' GROUP BY rule_id"
)
_INSERT = insert(
    ORDER_RETURNS,
    ["external_id", "order_id", "returned_amount", "points_reversed", "points_unrecovered", "request_hash",
     "created_at"],
    returning="id",
)
_INSERT_LINES = RowsInsert(ORDER_RETURN_LINES, ("order_return_id", "sku", "quantity"))


class Returns(Repository):
    async def order(self, external_id: str) -> OrderForReturn | None:
        rows = await self.conn.fetch(_ORDER, {"external_id": external_id})
        if not rows:
            return None
        row = ORDERS.decode(rows[0])
        self.session.seen.orders[row["external_id"]] = row["id"]
        lines = [ORDER_LINES.decode(r) for r in await self.conn.fetch(_LINES, {"order_id": row["id"]})]
        return record(
            OrderForReturn,
            row,
            lines=tuple(OrderedLine(line["sku"], line["quantity"], line["unit_price"]) for line in lines),
            # Orders recorded before migration 0004 filled these in counted as they were.
            program_currency=row["program_currency"] or row["currency"],
            program_subtotal=row["program_subtotal"] if row["program_subtotal"] is not None else row["subtotal"],
        )

    async def get(self, external_id: str) -> StoredReturn | None:
        rows = await self.conn.fetch(_RETURN, {"external_id": external_id})
        if not rows:
            return None
        row = ORDER_RETURNS.decode(rows[0])
        exponent = Decimal(1).scaleb(-minor_units(row["currency"]))
        return record(StoredReturn, row, returned_amount=row["returned_amount"].quantize(exponent))

    async def returned_before(self, order: OrderForReturn) -> dict[str, int]:
        rows = await self.conn.fetch(_RETURNED_BEFORE, {"order_id": order.id})
        return {row["sku"]: int(row["quantity"]) for row in rows}

    async def earned_by(self, order: OrderForReturn) -> list[EarnedPart]:
        rows = await self.conn.fetch(_EARNED, {"order_id": order.id})
        return [
            EarnedPart(
                row["rule_id"],
                row["points"],
                row["rules_version"],
                available=row["bucket"] == "available" or bool(row["released"]),
            )
            for row in rows
        ]

    async def reversed_by_rule(self, order: OrderForReturn) -> dict[str, int]:
        rows = await self.conn.fetch(_REVERSED, {"order_id": order.id})
        return {row["rule_id"]: -int(row["points"]) for row in rows}

    async def add(
        self, order: OrderForReturn, ret: ValidReturn, amount: Decimal, points: int, unrecovered: int, now: datetime
    ) -> None:
        self.session.writing()
        [row] = await self.conn.fetch(
            _INSERT,
            {
                "external_id": ret.external_id,
                "order_id": order.id,
                "returned_amount": amount,
                "points_reversed": points,
                "points_unrecovered": unrecovered,
                "request_hash": ret.request_hash,
                "created_at": now,
            },
        )
        lines = [
            {"order_return_id": row["id"], "sku": sku, "quantity": qty} for sku, qty in sorted(ret.quantities.items())
        ]
        await self.conn.execute(_INSERT_LINES.statement(len(lines)), _INSERT_LINES.params(lines))
