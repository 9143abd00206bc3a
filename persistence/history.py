"""Recorded history, read for a backtest and for rules that can never fire (issue 13).

A backtest replays a period's orders and events a page at a time: one statement per page
gives every order of the page with its lines and its customer's facts as of the order
(domain.history says how far "as of then" goes). The facts are correlated subqueries on
indexes: the customer's earlier orders on `orders(customer_id, placed_at)`, their points
on the ledger's `(customer_id, id)`, their tier changes (reward events) on
`(customer_external_id, customer_sequence)`. Pages follow `(time, id)`, so a page starts
where the last ended without an OFFSET.

What rules name (skus, categories, coupons, tiers, event types) is checked against a
period with one aggregate statement per kind, which answers the names that were seen.

Times are compared as the drivers bind them (see persistence.analytics).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from domain.events import event_rule_facts
from domain.history import RecordedEvent, RecordedOrder
from domain.program import CustomerFacts, LineFacts, OrderFacts
from persistence import sql
from persistence.statements import Statement, named

TIER_CHANGED = "tier.changed"
T = TypeVar("T")

# The customer's facts as of `p.happened_at`, for a page `p` of orders or events joined to `c`.
# Strictly before: the order itself, its entries and the tier change it caused are after.
_EARLIER_ORDERS = "FROM orders b WHERE b.customer_id = p.customer_id AND b.placed_at < p.happened_at"
_FACTS = f"""
  c.external_id AS customer, c.tags, c.attributes, c.birthday, c.enrolled_at, c.tier,
  c.referred_by_id IS NOT NULL AS referred,
  (SELECT COUNT(*) {_EARLIER_ORDERS}) AS orders_before,
  (SELECT SUM(COALESCE(b.program_subtotal, b.subtotal)) {_EARLIER_ORDERS}) AS spend_before,
  (SELECT MAX(b.placed_at) {_EARLIER_ORDERS}) AS last_order_at,
  (SELECT SUM(e.points) FROM ledger_entries e
    WHERE e.customer_id = p.customer_id AND e.kind IN ('earn', 'reverse') AND e.created_at < p.happened_at
  ) AS points_before,
  (SELECT t.payload FROM reward_events t
    WHERE t.customer_external_id = c.external_id AND t.type = '{TIER_CHANGED}' AND t.occurred_at < p.happened_at
    ORDER BY t.id DESC LIMIT 1) AS tier_change_before,
  (SELECT t.payload FROM reward_events t
    WHERE t.customer_external_id = c.external_id AND t.type = '{TIER_CHANGED}' AND t.occurred_at >= p.happened_at
    ORDER BY t.id LIMIT 1) AS tier_change_after
"""

# An order's lines as one JSON array of [sku, category, quantity, unit_price], in order:
# a correlated subquery is an index look-up per order, where a join let PostgreSQL hash the
# whole of order_lines for every page (measured: a full scan per page, 0.45 s at 175,000 lines).
_LINES = {
    "postgres": "(SELECT json_agg(json_build_array(l.sku, l.category, l.quantity, l.unit_price) ORDER BY l.position)"
    " FROM order_lines l WHERE l.order_id = p.id)",
    "sqlite": "(SELECT json_group_array(json_array(l.sku, l.category, l.quantity, l.unit_price))"
    " FROM (SELECT * FROM order_lines l WHERE l.order_id = p.id ORDER BY l.position) l)",
}

_ORDERS_PAGE = """
WITH p AS (
  SELECT o.id, o.external_id, o.customer_id, o.placed_at AS happened_at, o.currency, o.program_currency,
         o.exchange_rate, o.shipping_amount, o.coupon_codes
  FROM orders o
  WHERE o.placed_at >= :since AND o.placed_at < :until AND o.placed_at >= :after_at
    AND (o.placed_at > :after_at OR o.id > :after_id)
  ORDER BY o.placed_at, o.id
  LIMIT :limit
)
SELECT p.*, {facts}, {lines} AS lines
FROM p JOIN customers c ON c.id = p.customer_id
ORDER BY p.happened_at, p.id
"""
_ORDERS_PAGES = {
    dialect: Statement(_ORDERS_PAGE.format(facts=_FACTS, lines=lines)) for dialect, lines in _LINES.items()
}

_EVENTS_PAGE = Statement(f"""
WITH p AS (
  SELECT v.id, v.external_id, v.customer_id, v.occurred_at AS happened_at, v.type, v.attributes AS event_attributes
  FROM engagement_events v
  WHERE v.occurred_at >= :since AND v.occurred_at < :until AND v.occurred_at >= :after_at
    AND (v.occurred_at > :after_at OR v.id > :after_id)
  ORDER BY v.occurred_at, v.id
  LIMIT :limit
)
SELECT p.*, {_FACTS}
FROM p JOIN customers c ON c.id = p.customer_id
ORDER BY p.happened_at, p.id
""")

_COUNTS = Statement(
    "SELECT (SELECT COUNT(*) FROM orders WHERE placed_at >= :since AND placed_at < :until) AS orders,"
    " (SELECT COUNT(*) FROM engagement_events WHERE occurred_at >= :since AND occurred_at < :until) AS events"
)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after this (time, id)."""

    at: datetime
    id: int


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: Cursor | None
    """None when this page was the last."""


async def counts(since: datetime, until: datetime) -> tuple[int, int]:
    """(orders placed, events that happened) in [since, until)."""
    [row] = await sql.fetch_named(_COUNTS, {"since": since, "until": until})
    return int(row["orders"]), int(row["events"])


async def orders_page(since: datetime, until: datetime, after: Cursor | None, limit: int) -> Page[RecordedOrder]:
    """Orders placed in [since, until), after `after`, at most `limit`, oldest first."""
    start = after or Cursor(since, 0)
    statement = _ORDERS_PAGES["postgres" if sql.on_postgres() else "sqlite"]
    rows = await _page(statement, since, until, start, limit)
    return Page([_order(row) for row in rows], _next(rows[-1]) if len(rows) == limit else None)


async def events_page(since: datetime, until: datetime, after: Cursor | None, limit: int) -> Page[RecordedEvent]:
    """Engagement events that happened in [since, until), after `after`, at most `limit`."""
    start = after or Cursor(since, 0)
    rows = await _page(_EVENTS_PAGE, since, until, start, limit)
    events = [
        RecordedEvent(
            external_id=row["external_id"],
            at=_moment(row["happened_at"]),
            customer=_customer(row),
            event=event_rule_facts(row["type"], _json(row["event_attributes"]) or {}),
        )
        for row in rows
    ]
    return Page(events, _next(rows[-1]) if len(rows) == limit else None)


async def _page(
    statement: Statement, since: datetime, until: datetime, after: Cursor, limit: int
) -> list[dict[str, Any]]:
    """PostgreSQL compiles a statement this costly with its JIT before every run (measured:
    0.4 s of a page's 1.2 s, every page); the plan itself is index look-ups, which need none."""
    params = {"since": since, "until": until, "after_at": after.at, "after_id": after.id, "limit": limit}
    if not sql.on_postgres():
        return await sql.fetch_named(statement, params)
    async with sql.transaction():
        await sql.execute("SET LOCAL jit = off")
        return await sql.fetch_named(statement, params)


def _next(row: dict[str, Any]) -> Cursor:
    return Cursor(_moment(row["happened_at"]), int(row["id"]))


_LINES_JSON = json.JSONDecoder(parse_float=Decimal)
"""One decoder for every page: json.loads with an option builds one per call (measured: as
much CPU as the decoding of an order's lines)."""


def _order(row: dict[str, Any]) -> RecordedOrder:
    currency = row["currency"]
    # Amounts as exact decimals: PostgreSQL writes numerics as JSON numbers, SQLite as text.
    lines = _LINES_JSON.decode(row["lines"]) if row["lines"] else ()
    return RecordedOrder(
        external_id=row["external_id"],
        at=_moment(row["happened_at"]),
        customer=_customer(row),
        order=OrderFacts(
            currency=currency,
            lines=tuple(
                LineFacts(sku=sku, quantity=quantity, unit_price=_decimal(price), category=category)
                for sku, category, quantity, price in lines
            ),
            shipping_amount=_decimal(row["shipping_amount"]),
            coupon_codes=frozenset(_json(row["coupon_codes"]) or ()),
        ),
        program_currency=row["program_currency"] or currency,
        rate=_decimal(row["exchange_rate"]) if row["exchange_rate"] is not None else Decimal(1),
    )


def _customer(row: dict[str, Any]) -> CustomerFacts:
    birthday = row["birthday"]
    last_order_at = row["last_order_at"]
    return CustomerFacts(
        external_id=row["customer"],
        tier=_tier_then(row),
        tags=frozenset(_json(row["tags"]) or ()),
        lifetime_points=int(row["points_before"] or 0),
        # SQLite sums decimals stored as text in binary floating point: back to the column's scale.
        lifetime_spend=_decimal(row["spend_before"] or 0).quantize(Decimal("0.0001")),
        order_count=int(row["orders_before"]),
        last_order_at=_moment(last_order_at) if last_order_at is not None else None,
        birthday=date.fromisoformat(birthday) if isinstance(birthday, str) else birthday,
        enrolled_at=_moment(row["enrolled_at"]),
        attributes=_json(row["attributes"]) or {},
        referred=bool(row["referred"]),
    )


def _tier_then(row: dict[str, Any]) -> str | None:
    """The tier the last change before the moment led to; else the one the first change
    after it left; else the tier held today (it never changed)."""
    before, after = row["tier_change_before"], row["tier_change_after"]
    if before is not None:
        return _json(before).get("to")
    if after is not None:
        return _json(after).get("from")
    return row["tier"]


async def seen_skus(since: datetime, names: Collection[str]) -> set[str]:
    """Which of these skus a line of an order placed since then holds."""
    return await _seen(
        "SELECT DISTINCT l.sku AS name FROM order_lines l JOIN orders o ON o.id = l.order_id"
        f" WHERE o.placed_at >= :since AND {_among('l.sku')}",
        since,
        names,
    )


async def seen_categories(since: datetime, names: Collection[str]) -> set[str]:
    return await _seen(
        "SELECT DISTINCT l.category AS name FROM order_lines l JOIN orders o ON o.id = l.order_id"
        f" WHERE o.placed_at >= :since AND {_among('l.category')}",
        since,
        names,
    )


async def seen_coupons(since: datetime, names: Collection[str]) -> set[str]:
    """Which of these coupon codes (upper case: rules match them in any case) an order
    placed since then carried."""
    if sql.on_postgres():
        codes = "FROM orders o, jsonb_array_elements_text(o.coupon_codes) AS x(code)"
        code = "upper(x.code)"
    else:
        codes = "FROM orders o, json_each(o.coupon_codes) AS x"
        code = "upper(x.value)"
    return await _seen(
        f"SELECT DISTINCT {code} AS name {codes} WHERE o.placed_at >= :since AND {_among(code)}",
        since,
        {name.upper() for name in names},
    )


async def seen_tiers(since: datetime, names: Collection[str]) -> set[str]:
    """Which of these tiers a customer holds who ordered, or had an event, since then."""
    return await _seen(
        f"SELECT DISTINCT c.tier AS name FROM customers c WHERE {_among('c.tier')} AND ("
        " EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.placed_at >= :since)"
        " OR EXISTS (SELECT 1 FROM engagement_events v WHERE v.customer_id = c.id AND v.occurred_at >= :since))",
        since,
        names,
    )


async def seen_event_types(since: datetime, names: Collection[str]) -> set[str]:
    return await _seen(
        f"SELECT DISTINCT v.type AS name FROM engagement_events v WHERE v.occurred_at >= :since AND {_among('v.type')}",
        since,
        names,
    )


async def _seen(statement: str, since: datetime, names: Collection[str]) -> set[str]:
    if not names:
        return set()
    values: Any = sorted(names) if sql.on_postgres() else json.dumps(sorted(names))
    return {row["name"] for row in await sql.fetch_named(named(statement), {"since": since, "names": values})}


def _among(column: str) -> str:
    """`column` is one of the names bound at `:names` (an array; SQLite: a JSON list)."""
    if sql.on_postgres():
        return f"{column} = ANY(:names::text[])"
    return f"{column} IN (SELECT value FROM json_each(:names))"


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _json(value: Any) -> Any:
    # Both drivers hand JSON columns back as text (no codec is registered).
    return json.loads(value) if isinstance(value, str) else value


def _moment(value: Any) -> datetime:
    # asyncpg decodes timestamps; SQLite hands back the ISO text Tortoise stored.
    return sql.as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)
