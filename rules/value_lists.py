"""Long value lists ("one of these 10,000 coupon codes"), checked in Python after the engine.

durable-rules turns every listed value into a sibling node under one parent, and a parent's
children live in a 512-slot open-addressing table (rete.c NEXT_BUCKET_LENGTH) whose probe
only stops at an empty slot: the 512th sibling makes every assertion that misses loop
forever, the 513th is "error code: 106" at compile time. So a condition listing more than
MAX_ENGINE_VALUES values is left out of the rule's durable-rules terms (the engine then
matches a superset) and checked here, on the same fact, with a set: any size costs one
look-up per value the order carries.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from rules.facts import cents

MAX_ENGINE_VALUES = 64
"""Values one condition may hand to durable-rules; well below its 511 siblings per node."""

FLAT_KEYS = ("sku", "category", "tag")

Check = Callable[[dict[str, Any]], bool]
"""A condition on the fact durable-rules was given (rules.facts), lines included."""


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def is_long(value: Any) -> bool:
    return isinstance(value, list) and len(value) > MAX_ENGINE_VALUES


def has_long(spec: dict) -> bool:
    """A line matcher with a long sku, category or tag list (checked whole, one line at a time)."""
    return any(is_long(spec.get(key)) for key in FLAT_KEYS)


def any_of(field: str, values: list) -> Check:
    """`field` (a list field of the fact) holds one of the values."""
    wanted = frozenset(values)
    return lambda fact: not wanted.isdisjoint(fact.get(field, ()))


def none_of(field: str, values: list) -> Check:
    wanted = frozenset(values)
    return lambda fact: wanted.isdisjoint(fact.get(field, ()))


def _line_matcher(spec: dict) -> Callable[[dict[str, Any]], bool]:
    skus = frozenset(as_list(spec["sku"])) if "sku" in spec else None
    categories = frozenset(as_list(spec["category"])) if "category" in spec else None
    tags = frozenset(as_list(spec["tag"])) if "tag" in spec else None
    min_quantity = spec.get("min_quantity")
    money = {key: spec[key] for key in ("unit_price", "total") if key in spec}

    def matches(line: dict[str, Any]) -> bool:
        return (
            (skus is None or line["sku"] in skus)
            and (categories is None or line["category"] in categories)
            and (tags is None or not tags.isdisjoint(line["tags"]))
            and (min_quantity is None or line["quantity"] >= min_quantity)
            and all(_in_cents(line[key], limits) for key, limits in money.items())
        )

    return matches


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {  # the rule files' comparison keys
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
    "eq": operator.eq,
    "ne": operator.ne,
}


def _in_cents(value: int, limits: Any) -> bool:
    """A line's money (cents, as the fact holds it) against a comparison in currency units."""
    if not isinstance(limits, dict):
        return value == cents(limits)
    return all(COMPARISONS[op](value, cents(limit)) for op, limit in limits.items())


def any_line(spec: dict) -> Check:
    matches = _line_matcher(spec)
    return lambda fact: any(matches(line) for line in fact["lines"])


def all_lines(spec: dict) -> Check:
    """Like durable-rules' `$iall`, false for an empty cart (see docs/rules.md)."""
    matches = _line_matcher(spec)
    return lambda fact: bool(fact["lines"]) and all(matches(line) for line in fact["lines"])


def no_line(spec: dict) -> Check:
    matches = _line_matcher(spec)
    return lambda fact: not any(matches(line) for line in fact["lines"])
