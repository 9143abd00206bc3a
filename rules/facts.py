"""Facts as durable-rules sees them: one flat JSON object per evaluation.

What durable-rules cannot compute (sums, dates, set membership of a scalar) is precomputed
here into plain fields; every decision is still a durable-rules condition on those fields.
Money is in cents (ints) so comparisons never meet binary floats. Scalar strings are
one-element lists so that "any of these values" is a single `$iany` node rather than an
`$or`, which would multiply alpha-network paths (see compiler.MAX_PATHS). Tag lists end
with an empty-string sentinel: durable-rules' `$iall` is false on an empty list, and the
sentinel keeps "no tag x" true for an untagged line.
"Some line has sku/category/tag X" is a property `k:sku:X` (see `order_keys`, and
compiler.fact_key): durable-rules looks properties up by hash, so a ruleset of hundreds of
such tests costs about what one costs.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.program import CustomerFacts, EventFacts, OrderFacts

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SENTINEL = ""


def cents(amount: Decimal | int | float) -> int:
    return int((Decimal(str(amount)) * 100).to_integral_value(ROUND_HALF_UP))


def utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def week_of_month(day: int, days_in_month: int) -> list[int]:
    """Days 1-7 are week 1 (so "the first Monday" is weekday mon, week 1); the month's
    last seven days are also week -1 ("last")."""
    weeks = [(day - 1) // 7 + 1]
    return weeks + [-1] if day > days_in_month - 7 else weeks


def _base(kind: str, customer: CustomerFacts | None, now: datetime, zone: tzinfo = UTC) -> dict[str, Any]:
    now = utc(now)
    local = now.astimezone(zone)
    fact: dict[str, Any] = {
        "kind": kind,
        "now": int(now.timestamp()),
        "weekday": [WEEKDAYS[local.weekday()], SENTINEL],
        "month": [local.month, 0],
        "hour": local.hour,
        "day": local.day,
        "week_of_month": [*week_of_month(local.day, calendar.monthrange(local.year, local.month)[1]), 0],
    }
    if customer is not None:
        fact["customer"] = 1
        fact["tier"] = [customer.tier, SENTINEL] if customer.tier else [SENTINEL]
        fact["customer_tags"] = [*sorted(customer.tags), SENTINEL]
        fact["lifetime_spend"] = cents(customer.lifetime_spend)
        fact["lifetime_points"] = customer.lifetime_points
        fact["order_count"] = customer.order_count
        fact["referred"] = 1 if customer.referred else 0
        if customer.last_order_at is not None:
            fact["days_since_last_order"] = (now - utc(customer.last_order_at)).days
        if customer.enrolled_at is not None:
            fact["days_since_enrolled"] = (now - utc(customer.enrolled_at)).days
        if customer.birthday is not None:
            fact["birthday_month"] = 1 if customer.birthday.month == local.month else 0
    return fact


def order_fact(
    customer: CustomerFacts | None, order: OrderFacts, now: datetime, zone: tzinfo = UTC, lines: bool = True
) -> dict[str, Any]:
    """`lines=False`: without the line objects, which only Python checks of long value
    lists read (rules/value_lists.py); durable-rules conditions read line-filter counts."""
    fact = _base("order", customer, now, zone)
    fact.update(
        subtotal=cents(order.subtotal),
        shipping_amount=cents(order.shipping_amount),
        currency=[order.currency, SENTINEL],
        country=[order.country, SENTINEL] if order.country else [SENTINEL],
        coupons=[*sorted(c.upper() for c in order.coupon_codes), SENTINEL],
        line_count=len(order.lines),
        item_count=sum(line.quantity for line in order.lines),
    )
    if lines:
        fact["lines"] = [
            {
                "sku": line.sku,
                "category": line.category or SENTINEL,
                "tags": [*sorted(line.tags), SENTINEL],
                "quantity": line.quantity,
                "unit_price": cents(line.unit_price),
                "total": cents(line.total),
            }
            for line in order.lines
        ]
    return fact


def event_fact(customer: CustomerFacts, event: EventFacts, now: datetime, zone: tzinfo = UTC) -> dict[str, Any]:
    fact = _base("event", customer, now, zone)
    fact["event_type"] = event.type
    for name, value in event.attributes.items():
        if isinstance(value, bool):
            fact[f"e_{name}"] = 1 if value else 0
        elif isinstance(value, int | float | Decimal):
            fact[f"e_{name}"] = float(value) if isinstance(value, Decimal) else value
        elif isinstance(value, str):
            fact[f"e_{name}"] = [value, SENTINEL]
    return fact


def order_keys(order: OrderFacts) -> set[str]:
    """Every sku, category and tag in the cart, as `kind:value` (the index and fact keys)."""
    keys = set()
    for line in order.lines:
        keys.add(f"sku:{line.sku}")
        if line.category:
            keys.add(f"category:{line.category}")
        keys.update(f"tag:{tag}" for tag in line.tags)
    return keys
