"""Line filters: one construct ("lines matching this") that conditions, sums and effects share.

A filter takes `sku`, `category`, `tag` (one or a list each), `min_quantity`, and money
comparisons on a line's `unit_price` and `total` (unit price x quantity); every key given must
hold on the same line. durable-rules cannot add numbers up, so for every filter a program
uses, the order fact carries the matching lines' count, quantity and value (cents), computed
here (`LineSums`); conditions on them are durable-rules conditions on those fields, like the
other sums facts.py precomputes (subtotal, item_count).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.program import LineFacts, OrderFacts
from rules.facts import cents
from rules.value_lists import COMPARISONS, as_list

MONEY_KEYS = ("unit_price", "total")
LinePredicate = Callable[[LineFacts], bool]


def filter_id(spec: dict) -> str:
    """A short stable name for a filter: its fact fields are `n:<id>`, `q:<id>`, `v:<id>`."""
    text = json.dumps(canonical(spec), sort_keys=True, default=str)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


def count_field(spec: dict) -> str:
    return f"n:{filter_id(spec)}"


def quantity_field(spec: dict) -> str:
    return f"q:{filter_id(spec)}"


def value_field(spec: dict) -> str:
    return f"v:{filter_id(spec)}"


def other_field(spec: dict) -> str:
    """Lines that do not match (so "all lines match" is "none other", a plain comparison)."""
    return f"m:{filter_id(spec)}"


def _comparison(spec: Any) -> Callable[[Decimal | int], bool]:
    """The money comparison as a test, its limits made Decimals once: this runs for every
    line of every order that a filter with a price reads (a sixth of evaluating the bench's
    order went to `Decimal(str(limit))` per line, before)."""
    if not isinstance(spec, dict):
        wanted = Decimal(str(spec))
        return lambda value: value == wanted
    tests = tuple((COMPARISONS[op], Decimal(str(limit))) for op, limit in spec.items())
    if len(tests) == 1:
        [(compare, limit)] = tests
        return lambda value: compare(value, limit)
    return lambda value: all(compare(value, limit) for compare, limit in tests)


def predicate(spec: dict | None) -> LinePredicate:
    """The filter as a test on one line; None (no filter) matches every line."""
    if not spec:
        return lambda line: True
    skus = frozenset(as_list(spec["sku"])) if "sku" in spec else None
    categories = frozenset(as_list(spec["category"])) if "category" in spec else None
    tags = frozenset(as_list(spec["tag"])) if "tag" in spec else None
    min_quantity = spec.get("min_quantity")
    unit_price = _comparison(spec["unit_price"]) if "unit_price" in spec else None
    total = _comparison(spec["total"]) if "total" in spec else None

    def matches(line: LineFacts) -> bool:
        return (
            (skus is None or line.sku in skus)
            and (categories is None or line.category in categories)
            and (tags is None or not tags.isdisjoint(line.tags))
            and (min_quantity is None or line.quantity >= min_quantity)
            and (unit_price is None or unit_price(line.unit_price))
            and (total is None or total(line.total))
        )

    return matches


_PREDICATES: dict[int, tuple[dict | None, LinePredicate]] = {}


def _predicate_of(spec: dict | None) -> LinePredicate:
    """`predicate(spec)`, made once per spec object: effects' filters are summed for every
    evaluation that applies their rule. Keyed by identity, and checked, since an id can be
    reused once its object is gone; a reload's new specs eventually push the old out."""
    found = _PREDICATES.get(id(spec))
    if found is not None and found[0] is spec:
        return found[1]
    if len(_PREDICATES) > 10_000:
        _PREDICATES.clear()
    test = predicate(spec)
    _PREDICATES[id(spec)] = (spec, test)
    return test


@dataclass(frozen=True)
class LineSums:
    """What a filter picks out of an order."""

    count: int
    quantity: int
    value: Decimal
    others: int = 0

    @classmethod
    def of(cls, order: OrderFacts, spec: dict | None, test: LinePredicate | None = None) -> LineSums:
        """`test`: the spec's predicate, when the caller keeps it."""
        test = test or _predicate_of(spec)
        picked = [line for line in order.lines if test(line)]
        value = sum((line.total for line in picked), Decimal(0))
        return cls(len(picked), sum(line.quantity for line in picked), value, len(order.lines) - len(picked))

    def fields(self, spec: dict) -> dict[str, int]:
        """The order-fact fields of this filter (value in cents, like all money there)."""
        return {
            count_field(spec): self.count,
            quantity_field(spec): self.quantity,
            value_field(spec): cents(self.value),
            other_field(spec): self.others,
        }


def canonical(spec: dict) -> dict:
    """Filters equal in meaning share fields: scalars and one-element lists are alike."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in ("sku", "category", "tag"):
            out[key] = sorted({str(v) for v in as_list(value)})
        else:
            out[key] = value
    return out


class CompiledFilter:
    """A filter's predicate, made once, and the cart keys (facts.order_keys) one of which a
    matching line has: a cart with none of them has no matching line, whatever its size."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.test = predicate(spec)
        self.keys: frozenset[str] | None = None
        for key in ("sku", "category", "tag"):
            if key in spec:
                self.keys = frozenset(f"{key}:{value}" for value in as_list(spec[key]))
                break

    def sums(self, order: OrderFacts, cart_keys: set[str]) -> LineSums:
        if self.keys is not None and self.keys.isdisjoint(cart_keys):
            return _none_of(len(order.lines))
        return LineSums.of(order, self.spec, self.test)


@functools.lru_cache(maxsize=64)
def _none_of(lines: int) -> LineSums:
    return LineSums(0, 0, Decimal(0), lines)
