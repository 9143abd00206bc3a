"""Orders: writing a recorded order with everything it moves, and reading one back.

On PostgreSQL the order, its lines, its ledger entries, the balance move and the outbox
events go in one statement (data-modifying CTEs over unnest'ed arrays, so its text, and
asyncpg's prepared statement, is the same for every order): one round trip instead of
five, and the write can be guarded without a transaction. SQLite, which has no
data-modifying CTEs, runs the same writes one by one under its writer lock. Both forms
are built from the same table descriptions and the same row builders (`order_row`,
`entry_row`, `event_rows`); tests/e2e/test_same_rows.py compares what they write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.customers import Customer
from domain.ledger import NewEntry, earned_awards
from domain.money import minor_units
from domain.orders import ValidOrder
from domain.program import PointsAward
from persistence.ledger import ENTRY_COLUMNS, earn_entries_of, entry_row
from persistence.outbox import EVENT_COLUMNS, Event, event_rows
from persistence.repository import Repository
from persistence.session import Stale
from persistence.statements import RowsInsert, Statement, arrays, insert, unnest
from persistence.tables import CUSTOMERS, LEDGER_ENTRIES, ORDER_LINES, ORDERS, REWARD_EVENTS, as_utc, to_json

ORDER_COLUMNS = (
    "external_id",
    "customer_id",
    "currency",
    "placed_at",
    "subtotal",
    "shipping_amount",
    "coupon_codes",
    "points_earned",
    "rules_version",
    "request_hash",
    "created_at",
    "program_currency",
    "program_subtotal",
    "exchange_rate",
)
LINE_COLUMNS = ("order_id", "position", "sku", "category", "quantity", "unit_price")
_LINE_VALUES = LINE_COLUMNS[1:]
# Per entry, through arrays; the rest is the same for every entry of an order.
_ENTRY_VALUES = ("kind", "bucket", "points", "reason", "rule_id", "rules_version", "available_at", "expires_at")
_ENTRY_SHARED = {"order_id": "o.id", "customer_id": ":customer_id", "created_at": ":created_at"}
_EVENT_VALUES = ("type", "customer_external_id", "payload")
_GUARD = ("order_count", "lifetime_earned", "lifetime_spend", "tier")


def _cast(table, column: str) -> str:
    return f":{column}::{table[column].pg_type}"


# The balance move comes first and carries the guard: the customer's facts that the rules
# read must still be what they were when the order was evaluated. Every later write selects
# FROM the order row, so when the guard fails nothing at all is written.
_WRITE_ORDER = Statement(
    f"""
WITH c AS (
  UPDATE customers SET points_available = points_available + :add_available,
         points_pending = points_pending + :add_pending, lifetime_earned = lifetime_earned + :add_lifetime,
         tier = :tier, order_count = order_count + 1, lifetime_spend = lifetime_spend + :program_subtotal,
         last_order_at = :created_at
  WHERE id = :customer_id AND order_count = :seen_order_count AND lifetime_earned = :seen_lifetime_earned
        AND lifetime_spend = :seen_lifetime_spend AND tier IS NOT DISTINCT FROM :seen_tier::{CUSTOMERS['tier'].pg_type}
  RETURNING id
), o AS (
  INSERT INTO orders ({", ".join(ORDER_COLUMNS)})
  SELECT {", ".join("c.id" if col == "customer_id" else _cast(ORDERS, col) for col in ORDER_COLUMNS)}
  FROM c RETURNING id
), l AS (
  INSERT INTO order_lines ({", ".join(LINE_COLUMNS)})
  SELECT o.id, {", ".join("x." + c for c in _LINE_VALUES)}
  FROM o, {unnest(ORDER_LINES, _LINE_VALUES, "line")}
), e AS (
  INSERT INTO ledger_entries ({", ".join(ENTRY_COLUMNS)})
  SELECT {", ".join(_ENTRY_SHARED.get(c, "x." + c if c in _ENTRY_VALUES else "NULL") for c in ENTRY_COLUMNS)}
  FROM o, {unnest(LEDGER_ENTRIES, _ENTRY_VALUES, "entry")}
), v AS (
  INSERT INTO reward_events ({", ".join(EVENT_COLUMNS)})
  SELECT {", ".join(":created_at" if c == "occurred_at" else "x." + c for c in EVENT_COLUMNS)}
  FROM o, {unnest(REWARD_EVENTS, _EVENT_VALUES, "event")}
)
SELECT id FROM o
"""
)
_INSERT_ORDER = insert(ORDERS, ORDER_COLUMNS, returning="id")
_INSERT_LINES = RowsInsert(ORDER_LINES, LINE_COLUMNS)
_FIND = Statement(
    "SELECT o.*, c.external_id AS customer_external_id FROM orders o"
    " JOIN customers c ON c.id = o.customer_id WHERE o.external_id = :external_id"
)


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


def order_row(
    customer_id: int, customer: Customer, order: ValidOrder, *, points: int, rules_version: str, now: datetime
) -> tuple[dict, StoredOrder]:
    """A new order's values by column, and the order as stored: the same for every
    database's way of writing it."""
    facts = order.facts
    # In UTC, as the database gives it back, so that a replay answers the same instant alike.
    placed_at = as_utc(order.placed_at or now)
    row = {
        "external_id": order.external_id,
        "customer_id": customer_id,
        "currency": facts.currency,
        "placed_at": placed_at,
        "subtotal": facts.subtotal,
        "shipping_amount": facts.shipping_amount,
        "coupon_codes": to_json(sorted(facts.coupon_codes)),
        "points_earned": points,
        "rules_version": rules_version,
        "request_hash": order.request_hash,
        "created_at": now,
        "program_currency": order.converted.program_currency,
        "program_subtotal": order.converted.subtotal,
        "exchange_rate": order.converted.rate,
    }
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
    return row, stored


class Orders(Repository):
    async def add(
        self,
        customer: Customer,
        order: ValidOrder,
        entries: Sequence[NewEntry],
        *,
        rules_version: str,
        tier: str | None,
        events: Sequence[Event],
        now: datetime,
    ) -> StoredOrder:
        """The order, its lines, its entries, the customer's balance, tier, spend and order
        count, and the outbox events, written at once. Raises AlreadyStored when the order id
        is taken (a replay, or a race lost); when the customer changed since it was read
        (only possible in an unlocked session), nothing is written and the session's work
        runs again."""
        self.session.writing(guarded=True)
        snapshot = self.session.customers.snapshot(customer)
        points = sum(e.points for e in entries)
        row, stored = order_row(snapshot.id, customer, order, points=points, rules_version=rules_version, now=now)
        lines = [
            {"position": index, "sku": line.sku, "category": line.category, "quantity": line.quantity,
             "unit_price": line.unit_price}
            for index, line in enumerate(order.facts.lines)
        ]
        if not self.session.on_postgres:
            [written] = await self.conn.fetch(_INSERT_ORDER, row)
            order_id = written["id"]
            lines = [{**line, "order_id": order_id} for line in lines]
            await self.conn.execute(_INSERT_LINES.statement(len(lines)), _INSERT_LINES.params(lines))
            self.session.seen.orders[order.external_id] = order_id
            await self.session.ledger.record(
                customer,
                entries,
                now=now,
                order=order.external_id,
                tier=tier,
                spend=order.converted.subtotal,
                orders=1,
            )
            await self.session.outbox.add(events, now)
            return stored
        before = customer.balance
        after = before.after(entries)
        entry_rows = [entry_row(snapshot.id, e, now=now) for e in entries]
        rows = await self.conn.fetch(
            _WRITE_ORDER,
            {
                **row,
                **arrays("line", _LINE_VALUES, lines),
                **arrays("entry", _ENTRY_VALUES, entry_rows),
                **arrays("event", _EVENT_VALUES, event_rows(events, now)),
                "add_available": after.available - before.available,
                "add_pending": after.pending - before.pending,
                "add_lifetime": after.lifetime_earned - before.lifetime_earned,
                "tier": tier,
                **{f"seen_{name}": getattr(snapshot, name) for name in _GUARD},
            },
        )
        if not rows:
            raise Stale()
        self.session.seen.orders[order.external_id] = rows[0]["id"]
        return stored

    async def get(self, external_id: str) -> StoredOrder | None:
        rows = await self.conn.fetch(_FIND, {"external_id": external_id})
        if not rows:
            return None
        row = ORDERS.decode(rows[0])
        # Columns keep 4 decimals for every currency; amounts leave in the currency's own.
        exponent = Decimal(1).scaleb(-minor_units(row["currency"]))
        # Orders recorded before migration 0004 filled these in counted as they were.
        program_currency = row["program_currency"] or row["currency"]
        program_subtotal = row["program_subtotal"] if row["program_subtotal"] is not None else row["subtotal"]
        rate = row["exchange_rate"] if row["exchange_rate"] is not None else Decimal(1)
        return StoredOrder(
            external_id=row["external_id"],
            customer_external_id=row["customer_external_id"],
            currency=row["currency"],
            placed_at=row["placed_at"],
            subtotal=row["subtotal"].quantize(exponent),
            shipping_amount=row["shipping_amount"].quantize(exponent),
            points_earned=row["points_earned"],
            rules_version=row["rules_version"],
            request_hash=row["request_hash"],
            program_currency=program_currency,
            program_subtotal=program_subtotal.quantize(Decimal(1).scaleb(-minor_units(program_currency))),
            exchange_rate=rate.normalize(),
            awards=earned_awards(await earn_entries_of(self.conn, order_id=row["id"])),
        )

