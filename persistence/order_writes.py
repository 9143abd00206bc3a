"""Writing a recorded order.

On PostgreSQL the order, its lines, its ledger entries, the balance move and the outbox
events (numbered per customer as `persistence.outbox` numbers them: every event of
an order is its customer's) go in one statement (data-modifying CTEs over unnest'ed arrays, so its text, and
asyncpg's prepared statement, is the same for every order): one round trip instead of
five. SQLite, which has no data-modifying CTEs, runs the same writes one by one.

Both keep what the rules saw of the order besides its amounts: the shipping country and
each line's tags (sorted, as JSON).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from domain.ledger import Balance, NewEntry
from domain.orders import ValidOrder
from persistence import repositories as repo
from persistence import sql
from persistence.rows import CustomerRow

Event = tuple[str, str | None, dict]

# The balance move comes first and carries a guard: the customer's facts that the rules
# read must still be what they were when the order was evaluated, and so must the balance
# that its events report as the balance after. Every later write selects
# FROM the order row, so when the guard fails nothing at all is written.
_ORDER_CTE = f"""
WITH c AS (
  UPDATE customers SET points_available = points_available + $24,
         points_pending = points_pending + $25, lifetime_earned = lifetime_earned + $26,
         tier = $27, order_count = order_count + 1, lifetime_spend = lifetime_spend + $36,
         last_order_at = $11
  WHERE id = $2 AND order_count = $31 AND lifetime_earned = $32 AND lifetime_spend = $33
        AND tier IS NOT DISTINCT FROM $34::varchar AND points_available = $38 AND points_pending = $39
  RETURNING id
), o AS (
  INSERT INTO orders ({repo.ORDER_COLUMNS}, country)
  SELECT $1::varchar, c.id, $3::varchar, $4::timestamptz, $5::numeric, $6::numeric, $7::jsonb,
         $8::bigint, $9::varchar, $10::varchar, $11::timestamptz, $35::varchar, $36::numeric, $37::numeric,
         $41::varchar
  FROM c RETURNING id
), l AS (
  INSERT INTO order_lines (order_id, position, sku, category, quantity, unit_price, tags)
  SELECT o.id, x.position, x.sku, x.category, x.quantity, x.unit_price, x.tags::jsonb
  FROM o, unnest($12::int[], $13::text[], $14::text[], $15::int[], $16::numeric[], $42::text[])
       AS x(position, sku, category, quantity, unit_price, tags)
), e AS (
  INSERT INTO ledger_entries (customer_id, kind, bucket, points, reason, rule_id, rules_version,
                              order_id, created_at, available_at, expires_at, variant)
  SELECT $2, x.kind, x.bucket, x.points, x.reason, x.rule_id, $9, o.id, $11, x.available_at, x.expires_at,
         x.variant
  FROM o, unnest($17::text[], $18::text[], $19::bigint[], $20::text[], $21::text[],
                 $22::timestamptz[], $23::timestamptz[], $40::text[])
       AS x(kind, bucket, points, reason, rule_id, available_at, expires_at, variant)
), s AS (
  INSERT INTO customer_event_sequences (customer_external_id, last_sequence)
  SELECT ($29::text[])[1], cardinality($29::text[]) FROM o WHERE cardinality($29::text[]) > 0
  ON CONFLICT (customer_external_id)
  DO UPDATE SET last_sequence = customer_event_sequences.last_sequence + excluded.last_sequence
  RETURNING last_sequence
), v AS (
  INSERT INTO reward_events (type, customer_external_id, occurred_at, payload, customer_sequence, rules_version)
  SELECT x.type, x.customer, $11, x.payload::jsonb, s.last_sequence - cardinality($29::text[]) + x.n, $9
  FROM s, unnest($28::text[], $29::text[], $30::text[]) WITH ORDINALITY AS x(type, customer, payload, n)
)
SELECT id FROM o
"""


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
) -> tuple[int, repo.StoredOrder] | None:
    """Raises IntegrityError when the order id is taken (a replay, or a race lost). None,
    with nothing written, when the customer's facts changed since they were read (only
    possible without the customer's lock: see app.orders)."""
    if not sql.on_postgres():
        order_id, stored = await _insert_order(customer, order, points=points, rules_version=rules_version, now=now)
        await repo.apply_entries(
            customer, entries, now=now, order=order_id, tier=tier, spend=order.converted.subtotal, orders=1
        )
        await repo.add_events(events, now, rules_version)
        return order_id, stored
    before = Balance(customer.points_available, customer.points_pending, customer.lifetime_earned)
    after = before.after(entries)
    lines = order.facts.lines
    row_values, stored = repo.new_order_row(customer, order, points=points, rules_version=rules_version, now=now)
    rows = await sql.fetch(
        _ORDER_CTE,
        *row_values[:11],  # $1-$11
        list(range(len(lines))),
        [line.sku for line in lines],
        [line.category for line in lines],
        [line.quantity for line in lines],
        [line.unit_price for line in lines],
        [e.kind.value for e in entries],
        [e.bucket.value for e in entries],
        [e.points for e in entries],
        [e.reason for e in entries],
        [e.rule_id for e in entries],
        [e.available_at for e in entries],
        [e.expires_at for e in entries],
        after.available - before.available,
        after.pending - before.pending,
        after.lifetime_earned - before.lifetime_earned,
        tier,
        [t for t, _, _ in events],
        [c for _, c, _ in events],
        [json.dumps(p) for _, _, p in events],
        customer.order_count,
        customer.lifetime_earned,
        customer.lifetime_spend,
        customer.tier,
        *row_values[11:],  # $35-$37: the program currency, the subtotal in it, the rate
        customer.points_available,  # $38, $39: the balance its events report
        customer.points_pending,
        [e.variant for e in entries],  # $40: the experiment variant of each entry
        order.facts.country,  # $41
        [_tags(line.tags) for line in lines],  # $42
    )
    if not rows:
        return None
    return rows[0]["id"], stored


def _tags(tags: frozenset[str]) -> str:
    return json.dumps(sorted(tags), separators=(",", ":"))


async def _insert_order(
    customer: CustomerRow, order: ValidOrder, *, points: int, rules_version: str, now: datetime
) -> tuple[int, repo.StoredOrder]:
    """The order and its lines, as the statement above writes them (SQLite)."""
    row_values, stored = repo.new_order_row(customer, order, points=points, rules_version=rules_version, now=now)
    values = (*row_values, order.facts.country)
    # No existence check first: the unique index on external_id refuses a replay, which
    # then rolls back and is answered from the stored order.
    [row] = await sql.fetch(
        f"INSERT INTO orders ({repo.ORDER_COLUMNS}, country)"
        f" VALUES ({', '.join(f'${n}' for n in range(1, len(values) + 1))}) RETURNING id",
        *values,
    )
    order_id = int(row["id"])
    columns, line_values = sql.values_rows(
        [
            (order_id, index, line.sku, line.category, line.quantity, line.unit_price, _tags(line.tags))
            for index, line in enumerate(order.facts.lines)
        ]
    )
    await sql.execute(
        "INSERT INTO order_lines (order_id, position, sku, category, quantity, unit_price, tags) VALUES " + columns,
        *line_values,
    )
    return order_id, stored
