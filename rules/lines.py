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


def _comparison(spec: Any) -> Callable[[Decimal | int], bool] | None:
    """A money comparison of the filter (`unit_price: {gte: 20}`, or a plain value for
    equality) as a test, its limits made Decimals once rather than at every line."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        equal = Decimal(str(spec))
        return lambda value: value == equal
    tests = [(COMPARISONS[op], Decimal(str(limit))) for op, limit in spec.items()]
    return lambda value: all(compare(value, limit) for compare, limit in tests)


def predicate(spec: dict | None) -> LinePredicate:
    """The filter as a test on one line; None (no filter) matches every line."""
    if not spec:
        return lambda line: True
    skus = frozenset(as_list(spec["sku"])) if "sku" in spec else None
    categories = frozenset(as_list(spec["category"])) if "category" in spec else None
    tags = frozenset(as_list(spec["tag"])) if "tag" in spec else None
    min_quantity = spec.get("min_quantity")
    unit_price, total = _comparison(spec.get("unit_price")), _comparison(spec.get("total"))

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


LinePicker = Callable[[tuple[LineFacts, ...]], list[LineFacts]]
_PICKERS: dict[int, tuple[dict | None, LinePicker]] = {}


def picker(spec: dict | None) -> LinePicker:
    """The lines the filter matches. A filter of skus alone, categories alone or tags alone
    (most effects' filters) is one set test per line, not the general predicate's six."""
    if spec and len(spec) == 1 and next(iter(spec)) in ("sku", "category", "tag"):
        ((key, values),) = spec.items()
        wanted = frozenset(as_list(values))
        if key == "sku":
            return lambda lines: [line for line in lines if line.sku in wanted]
        if key == "category":
            return lambda lines: [line for line in lines if line.category in wanted]
        return lambda lines: [line for line in lines if not wanted.isdisjoint(line.tags)]
    test = predicate(spec)
    return lambda lines: [line for line in lines if test(line)]


def _picker_of(spec: dict | None) -> LinePicker:
    """`picker(spec)`, made once per spec object: effects' filters are summed for every
    evaluation that applies their rule. Keyed by identity, and checked, since an id can be
    reused once its object is gone; a reload's new specs eventually push the old out."""
    found = _PICKERS.get(id(spec))
    if found is not None and found[0] is spec:
        return found[1]
    if len(_PICKERS) > 10_000:
        _PICKERS.clear()
    pick = picker(spec)
    _PICKERS[id(spec)] = (spec, pick)
    return pick


@dataclass(frozen=True)
class LineSums:
    """What a filter picks out of an order."""

    count: int
    quantity: int
    value: Decimal
    others: int = 0

    @classmethod
    def of(cls, order: OrderFacts, spec: dict | None, pick: LinePicker | None = None) -> LineSums:
        """`pick`: the spec's picker, when the caller keeps it."""
        picked = (pick or _picker_of(spec))(order.lines)
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
        self.pick = picker(spec)
        self.keys: frozenset[str] | None = None
        for key in ("sku", "category", "tag"):
            if key in spec:
                self.keys = frozenset(f"{key}:{value}" for value in as_list(spec[key]))
                break

    def sums(self, order: OrderFacts, cart_keys: set[str]) -> LineSums:
        if self.keys is not None and self.keys.isdisjoint(cart_keys):
            return _none_of(len(order.lines))
        return LineSums.of(order, self.spec, self.pick)


@functools.lru_cache(maxsize=64)
def _none_of(lines: int) -> LineSums:
    return LineSums(0, 0, Decimal(0), lines)
