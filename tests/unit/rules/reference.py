"""A plain-Python reading of rule conditions, written from docs/rules.md and independent of
the compiler (rules/compiler.py, conditions.py, facts.py): the property tests check the
durable-rules answers against it."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from domain.program import CustomerFacts, LineFacts, OrderFacts
from rules.experiments import variant_of
from rules.model import RuleSpec, Settings
from rules.parse import parse_when

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def compare(value: Any, spec: Any, conv=lambda v: v) -> bool:
    if value is None:
        return False
    if not isinstance(spec, dict):
        return value == conv(spec)
    checks = {
        "gte": lambda a, b: a >= b,
        "gt": lambda a, b: a > b,
        "lte": lambda a, b: a <= b,
        "lt": lambda a, b: a < b,
        "eq": lambda a, b: a == b,
        "ne": lambda a, b: a != b,
    }
    return all(checks[op](value, conv(limit)) for op, limit in spec.items())


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def line_matches(line: LineFacts, spec: dict | None) -> bool:
    spec = spec or {}
    return (
        ("sku" not in spec or line.sku in _listed(spec["sku"]))
        and ("category" not in spec or line.category in _listed(spec["category"]))
        and ("tag" not in spec or any(tag in line.tags for tag in _listed(spec["tag"])))
        and ("min_quantity" not in spec or line.quantity >= spec["min_quantity"])
        and ("unit_price" not in spec or compare(line.unit_price, spec["unit_price"], _money))
        and ("total" not in spec or compare(line.unit_price * line.quantity, spec["total"], _money))
    )


def _cart(cart: dict, order: OrderFacts) -> bool:
    lines = order.lines
    for key, spec in cart.items():
        if key == "any_line" and not any(line_matches(line, spec) for line in lines):
            return False
        if key == "all_lines" and not (lines and all(line_matches(line, spec) for line in lines)):
            return False
        if key == "no_line" and any(line_matches(line, spec) for line in lines):
            return False
        if key == "sum":
            picked = [line for line in lines if line_matches(line, spec.get("lines"))]
            value = sum((line.unit_price * line.quantity for line in picked), Decimal(0))
            if "value" in spec and not compare(value, spec["value"], _money):
                return False
            if "quantity" in spec and not compare(sum(line.quantity for line in picked), spec["quantity"]):
                return False
    return True


def _attribute(value: Any, spec: Any, kind: str) -> bool:
    if value is None:
        return False
    if kind == "boolean":
        return value is spec
    if kind in ("string", "one_of"):
        return value in _listed(spec)
    if kind == "date":
        day = date.fromisoformat(value)
        return all(
            day.month in _listed(limit) if op == "month" else compare(day, {op: limit}, lambda v: date.fromisoformat(v))
            for op, limit in spec.items()
        )
    return compare(value, spec)


def _customer(spec: dict, customer: CustomerFacts, now: datetime, local: datetime, settings: Settings) -> bool:
    for key, value in spec.items():
        if key == "tier":
            ok = customer.tier in _listed(value)
        elif key == "tag":
            ok = any(tag in customer.tags for tag in _listed(value))
        elif key == "no_tag":
            ok = not any(tag in customer.tags for tag in _listed(value))
        elif key == "lifetime_spend":
            ok = compare(customer.lifetime_spend, value, _money)
        elif key in ("lifetime_points", "order_count"):
            ok = compare(getattr(customer, key), value)
        elif key == "days_since_last_order":
            last = customer.last_order_at
            ok = compare((now - last).days if last else None, value)
        elif key == "days_since_enrolled":
            enrolled = customer.enrolled_at
            ok = compare((now - enrolled).days if enrolled else None, value)
        elif key == "birthday_month":
            ok = customer.birthday is not None and (customer.birthday.month == local.month) == value
        elif key == "attributes":
            ok = all(
                _attribute(customer.attributes.get(name), cond, settings.attributes[name].kind)
                for name, cond in value.items()
            )
        else:
            raise AssertionError(key)
        if not ok:
            return False
    return True


def _time(spec: dict, now: datetime, local: datetime) -> bool:
    last_day = calendar.monthrange(local.year, local.month)[1]
    for key, value in spec.items():
        if key == "weekday":
            ok = WEEKDAYS[local.weekday()] in _listed(value)
        elif key == "month":
            ok = local.month in _listed(value)
        elif key in ("hour", "day"):
            ok = compare(getattr(local, key), value)
        elif key == "week_of_month":
            weeks = {(local.day - 1) // 7 + 1} | ({"last"} if local.day > last_day - 7 else set())
            ok = any(week in weeks for week in _listed(value))
        elif key == "between":
            start = parse_when(value["from"])[0] if "from" in value else None
            until, bare = parse_when(value["until"]) if "until" in value else (None, False)
            end = until + timedelta(days=1) if until is not None and bare else until
            ok = (start is None or now >= start) and (end is None or now < end)
        else:
            raise AssertionError(key)
        if not ok:
            return False
    return True


def holds(
    when: dict, customer: CustomerFacts | None, order: OrderFacts, now: datetime, zone: tzinfo, settings: Settings
) -> bool:
    local = now.astimezone(zone)
    for key, spec in when.items():
        if key == "order":
            ok = all(_order(name, value, order) for name, value in spec.items())
        elif key == "cart":
            ok = _cart(spec, order)
        elif key == "customer":
            ok = customer is not None and _customer(spec, customer, now, local, settings)
        elif key == "time":
            ok = _time(spec, now, local)
        elif key == "any":
            ok = any(holds(sub, customer, order, now, zone, settings) for sub in spec)
        elif key == "all":
            ok = all(holds(sub, customer, order, now, zone, settings) for sub in spec)
        elif key == "not":
            ok = not holds(spec, customer, order, now, zone, settings)
        else:
            raise AssertionError(key)
        if not ok:
            return False
    return True


def _order(name: str, value: Any, order: OrderFacts) -> bool:
    if name == "subtotal":
        return compare(order.subtotal, value, _money)
    if name == "shipping_amount":
        return compare(order.shipping_amount, value, _money)
    if name == "item_count":
        return compare(sum(line.quantity for line in order.lines), value)
    if name == "line_count":
        return compare(len(order.lines), value)
    if name == "currency":
        return order.currency in _listed(value)
    if name == "country":
        return order.country in _listed(value)
    if name == "coupon":
        return any(code.upper() in {c.upper() for c in order.coupon_codes} for code in _listed(value))
    raise AssertionError(name)


def matches(
    rule: RuleSpec, customer: CustomerFacts | None, order: OrderFacts, now: datetime, zone: tzinfo, settings: Settings
) -> bool:
    """Whether the rule's conditions hold: its window, customer, experiment and `when`."""
    if not rule.active_at(now):
        return False
    if rule.needs_customer and customer is None:
        return False
    if rule.experiment is not None:
        assert customer is not None
        if variant_of(settings.experiments[rule.experiment], customer.external_id) != rule.variant:
            return False
    return holds(rule.when, customer, order, now, zone, settings)


def within_limits(
    rules: list[dict], campaigns: dict[str, dict], matched: list[str], has_customer: bool, usage: Any
) -> dict[str, Decimal]:
    """What each matched rule gives (points or a discount amount) after its own limits and
    budgets and its campaign's, read from the rule files' dicts: `matched` in application
    order; a use, points or discounts taken by one rule count for the next."""
    by_id = {rule["id"]: rule for rule in rules}
    uses: dict[str, int] = {}
    points: dict[str, Decimal] = {}
    amounts: dict[str, Decimal] = {}
    given: dict[str, Decimal] = {}
    for rule_id in matched:
        rule = by_id[rule_id]
        counters = []
        if "limit" in rule or "budget" in rule:
            counters.append((rule_id, rule.get("limit", {}), rule.get("budget", {})))
        if "campaign" in rule:
            campaign = campaigns[rule["campaign"]]
            counters.append((f"campaign:{rule['campaign']}", campaign.get("limit", {}), campaign.get("budget", {})))
        is_points = "points" in rule["then"]
        spent_kind, spent = ("points", points) if is_points else ("amount", amounts)
        program_spent = usage.program_points if is_points else usage.program_amounts

        stopped = False
        for key, limit, budget in counters:
            used = uses.get(key, 0)
            stopped = stopped or (
                has_customer
                and "per_customer" in limit
                and usage.customer_uses.get(key, 0) + used >= limit["per_customer"]
            )
            stopped = stopped or ("total" in limit and usage.program_uses.get(key, 0) + used >= limit["total"])
            stopped = stopped or (
                spent_kind in budget
                and program_spent.get(key, 0) + spent.get(key, 0) >= Decimal(str(budget[spent_kind]))
            )
        if stopped:
            continue
        for key, _, _ in counters:
            uses[key] = uses.get(key, 0) + 1
        value = Decimal(rule["then"]["points"]["fixed"]) if is_points else Decimal(rule["then"]["discount"]["amount"])
        for key, _, budget in counters:
            if spent_kind in budget:
                value = min(value, Decimal(str(budget[spent_kind])) - program_spent.get(key, 0) - spent.get(key, 0))
        for key, _, budget in counters:
            if spent_kind in budget:
                spent[key] = spent.get(key, 0) + value
        if value > 0:
            given[rule_id] = value
    return given
