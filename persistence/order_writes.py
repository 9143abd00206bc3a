"""Writing a recorded order: the order, its lines, its ledger entries, the customer's
balance move and the outbox events.

On PostgreSQL all of it goes in one statement (data-modifying CTEs over rows given as JSON,
so its text, and asyncpg's prepared statement, is the same for every order): one round
trip instead of five, and the write can be guarded without a transaction (measured in
bench/: it pays). SQLite, which has no data-modifying CTEs, runs the same writes one by
one. Both are built from the same table descriptions (persistence.tables) and the same
row builders (`order_row`, `line_rows`, `entries.entry_row`, `outbox.event_row`), and the
balance move is `repositories.MOVE_BALANCE` in both; tests/e2e/test_same_rows.py compares
what the two write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from domain.ledger import NewEntry
from domain.orders import ValidOrder
from persistence import outbox, sql
from persistence.entries import LinkedEntry, entry_row, insert_entries
from persistence.repositories import MOVE_BALANCE, StoredOrder, balance_move, move_balance
from persistence.rows import CustomerRow
from persistence.statements import JsonRows, RowsInsert, Statement, insert, insert_select, whole_row
from persistence.tables import CUSTOMER_EVENT_SEQUENCES, CUSTOMERS, LEDGER_ENTRIES, ORDER_LINES, ORDERS, REWARD_EVENTS

Event = tuple[str, str | None, dict]
# Made once: json.dumps(separators=...) builds a new encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def order_row(
    customer: CustomerRow, order: ValidOrder, *, points: int, rules_version: str, now: datetime
) -> tuple[dict[str, Any], StoredOrder]:
    """A new order's values by column, and the order as stored: the same for every
    database's way of writing it."""
    facts, converted = order.facts, order.converted
    # Each a sum over the lines, made once.
    subtotal, program_subtotal = facts.subtotal, converted.subtotal
    # In UTC, as the database gives it back, so that a replay answers the same instant alike.
    placed_at = sql.as_utc(order.placed_at or now)
    row = {
        "external_id": order.external_id,
        "customer_id": customer.id,
        "currency": facts.currency,
        "placed_at": placed_at,
        "subtotal": subtotal,
        "shipping_amount": facts.shipping_amount,
        "program_currency": converted.program_currency,
        "program_subtotal": program_subtotal,
        "exchange_rate": converted.rate,
        # Most orders name no coupon: their JSON is known.
        "coupon_codes": json.dumps(sorted(facts.coupon_codes)) if facts.coupon_codes else "[]",
        "points_earned": points,
        "rules_version": rules_version,
        "request_hash": order.request_hash,
        "created_at": now,
        "country": facts.country,
    }
    stored = StoredOrder(
        external_id=order.external_id,
        customer_external_id=customer.external_id,
        currency=facts.currency,
        placed_at=placed_at,
        subtotal=subtotal,
        shipping_amount=facts.shipping_amount,
        points_earned=points,
        rules_version=rules_version,
        request_hash=order.request_hash,
        program_currency=converted.program_currency,
        program_subtotal=program_subtotal,
        exchange_rate=converted.rate,
    )
    return row, stored


def line_rows(order: ValidOrder, order_id: int | None) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "position": index,
            "sku": line.sku,
            "category": line.category,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "tags": _COMPACT.encode(sorted(line.tags)) if line.tags else "[]",
        }
        for index, line in enumerate(order.facts.lines)
    ]


# ---- SQLite: one write after the other ------------------------------------------------------

_INSERT_ORDER = insert(ORDERS, returning="id")
_INSERT_LINES = RowsInsert(ORDER_LINES)

# ---- PostgreSQL: one statement ---------------------------------------------------------------

# Per line, per entry and per event, through one JSON parameter each; every other column
# of theirs is the same for all of an order's rows, and given here.
_LINE = {"order_id": "o.id"}
_ENTRY = {
    "customer_id": ":customer_id",
    "order_id": "o.id",
    "created_at": ":created_at",
    # What `entry_row` gives an order's entries.
    "source": "NULL",
    "event_id": "NULL",
    "related_entry_id": "NULL",
}
_EVENT = {
    "occurred_at": ":created_at",
    # This customer's next numbers: see outbox.COUNT_EVENTS.
    "customer_sequence": "s.last_sequence - :event_count + x.n",
}
_LINE_ROWS = JsonRows(ORDER_LINES, [c for c in ORDER_LINES.written if c not in _LINE], "lines")
_ENTRY_ROWS = JsonRows(LEDGER_ENTRIES, [c for c in LEDGER_ENTRIES.written if c not in _ENTRY], "entries")
_EVENT_ROWS = JsonRows(REWARD_EVENTS, [c for c in REWARD_EVENTS.written if c not in _EVENT], "events", numbered=True)
# The customer's facts that the rules read, and the balance its events report as the
# balance after: the write happens only if they are still what they were when read.
_GUARDED = ("order_count", "lifetime_earned", "lifetime_spend", "tier", "points_available", "points_pending")
_SEEN = tuple((f"seen_{column}", column) for column in _GUARDED)


def _guard(column: str) -> str:
    if CUSTOMERS[column].nullable:
        return f"{column} IS NOT DISTINCT FROM :seen_{column}{CUSTOMERS.cast(column)}"
    return f"{column} = :seen_{column}"


def _from(rows: JsonRows, shared: dict[str, str]) -> Callable[[str], str]:
    return lambda column: shared.get(column) or rows.column(column)


def _order_column(column: str) -> str:
    return "c.id" if column == "customer_id" else f":{column}{ORDERS.cast(column)}"


_ORDER = insert_select(ORDERS, whole_row(ORDERS, _order_column), "c", returning="id")
_LINES = insert_select(ORDER_LINES, whole_row(ORDER_LINES, _from(_LINE_ROWS, _LINE)), f"o, {_LINE_ROWS.sql}")
_ENTRIES = insert_select(LEDGER_ENTRIES, whole_row(LEDGER_ENTRIES, _from(_ENTRY_ROWS, _ENTRY)), f"o, {_ENTRY_ROWS.sql}")
_EVENTS = insert_select(REWARD_EVENTS, whole_row(REWARD_EVENTS, _from(_EVENT_ROWS, _EVENT)), f"s, {_EVENT_ROWS.sql}")

# The balance move comes first and carries the guard; every later write selects FROM the
# order row, so when the guard fails nothing at all is written. Events are all the
# order's customer's, so one upsert numbers them.
_WRITE_ORDER = Statement(
    f"""
WITH c AS (
  UPDATE customers SET {MOVE_BALANCE}
  WHERE id = :customer_id AND {" AND ".join(map(_guard, _GUARDED))}
  RETURNING id
), o AS (
  {_ORDER}
), l AS (
  {_LINES}
), e AS (
  {_ENTRIES}
), s AS (
  INSERT INTO {CUSTOMER_EVENT_SEQUENCES.name} (customer_external_id, last_sequence)
  SELECT :event_customer::varchar, :event_count::int
  FROM o WHERE :event_count::int > 0
  {outbox.COUNT_EVENTS}
  RETURNING last_sequence
), v AS (
  {_EVENTS}
)
SELECT id FROM o
"""
)


async def write_order(
    customer: CustomerRow,
    order: ValidOrder,
    entries: Sequence[NewEntry],
    *,
    points: int,
    rules_version: str,
    tier: str | None,
    events: Sequence[Event],
    now: datetime,
) -> tuple[int, StoredOrder] | None:
    """Raises IntegrityError when the order id is taken (a replay, or a race lost). None,
    with nothing written, when the customer's facts changed since they were read (only
    possible without the customer's lock: see app.orders)."""
    row, stored = order_row(customer, order, points=points, rules_version=rules_version, now=now)
    spend = row["program_subtotal"]
    if not sql.on_postgres():
        # No existence check first: the unique index on external_id refuses a replay, which
        # then rolls back and is answered from the stored order.
        [written] = await sql.fetch_named(_INSERT_ORDER, row)
        order_id = written["id"]
        lines = line_rows(order, order_id)
        if lines:
            await sql.execute_named(_INSERT_LINES.statement(len(lines)), _INSERT_LINES.params(lines))
        await insert_entries(customer.id, [LinkedEntry(e) for e in entries], now=now, order_id=order_id)
        await move_balance(customer, entries, tier=tier, now=now, spend=spend, orders=1)
        await outbox.add_events(events, now, rules_version)
        return order_id, stored
    _, move = balance_move(customer, entries, tier=tier, now=now, spend=spend, orders=1)
    event_rows = [outbox.event_row(t, c, p, now=now, sequence=None, rules_version=rules_version) for t, c, p in events]
    rows = await sql.fetch_named(
        _WRITE_ORDER,
        {
            **row,
            **move,
            **{key: getattr(customer, column) for key, column in _SEEN},
            **_LINE_ROWS.params(line_rows(order, None)),
            **_ENTRY_ROWS.params([entry_row(customer.id, e, now=now) for e in entries]),
            **_EVENT_ROWS.params(event_rows),
            "event_customer": customer.external_id,
            "event_count": len(event_rows),
        },
    )
    if not rows:
        return None
    if events:
        outbox.announce_written()
    return rows[0]["id"], stored
