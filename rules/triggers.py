"""What an order must hold for a rule to match, looked up for all rules at once.

durable-rules tests every rule of every ruleset an order is asserted into, so an order is
asserted only into the rulesets holding a rule it can match. Each order rule is filed under
one *trigger*, a condition its compiled terms require (the cheapest to look up that lets
the fewest orders through):
- a key: a sku, category or tag in the cart (`any_line`, `all_lines`, or a sum over such
  lines that cannot be zero), or one value of a list field of the fact: a coupon, the tier,
  a customer tag, the weekday, the month, an attribute or experiment variant;
- a band of a number: the subtotal, the item count, lifetime spend, days since the last
  order, the evaluation time (`active`, `time.between`)... All bands on one field are cut at
  their bounds into segments, each listing the rulesets of the bands that cover it, so one
  bisect answers every threshold of that field (`Bands`).
A trigger is a necessary condition only: durable-rules still decides on the whole rule. A
rule with none is consulted for every order. Where the index cannot read a value the way
durable-rules compares it (not a number, a bound beyond float precision), it consults every
ruleset filed under that field or leaves the rule untriggered: never fewer, only more.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.compiler import KEY_PREFIX

CART = "k"
"""The trigger field of cart keys (`sku:X`, `category:X`, `tag:X`, as facts.order_keys)."""

_UNTRIGGERED = {"kind", "customer", "event_type", "lines"}
_SUM_PREFIXES = ("n:", "q:", "v:", "m:")
"""Line-filter sums (rules/lines.py) trigger nothing: they are summed only for the rulesets
an order reaches, after the index has chosen them."""
_EXACT = 2.0**52
_LIST_COST = {
    "coupons": 0.02,
    "weekday": 1 / 7,
    "month": 1 / 12,
    "week_of_month": 0.2,
    "tier": 0.34,
    "currency": 0.5,
}
_SCALE = {"hour": 24.0, "day": 31.0}


@dataclass(frozen=True)
class Trigger:
    field: str
    values: tuple = ()
    """A key trigger: the order has one of these (CART keys, or values of a list field)."""
    low: float = -math.inf
    high: float = math.inf
    """A band trigger: low <= value < high (bounds made half-open, see `_band`)."""

    @property
    def is_band(self) -> bool:
        return not self.values

    @property
    def cost(self) -> float:
        """About what share of orders it lets through: the lowest is chosen."""
        if self.field == CART:
            return min(1.0, 0.01 * len(self.values))
        if self.values:
            return min(1.0, _LIST_COST.get(self.field, 0.3) * len(self.values))
        bounded = math.isfinite(self.low) and math.isfinite(self.high)
        if self.field in _SCALE and bounded:
            return min(1.0, (self.high - self.low) / _SCALE[self.field])
        if self.field == "now":
            return 0.05 if bounded else 0.6
        if self.high == math.nextafter(self.low, math.inf):
            return 0.15  # one value: order_count 0, birthday_month, a boolean attribute...
        return 0.3 if bounded else 0.5

    def sort_key(self) -> tuple:
        """Rules whose triggers an order meets together sit side by side in rulesets."""
        if self.values:
            return (0, self.field, str(sorted(map(str, self.values))[0]), 0.0)
        return (1, self.field, self.low, self.high)


def _list_values(item: dict) -> tuple | None:
    """The values of `{$i: v}` or `{$or: [{$i: v}, ...]}` (conditions.one_of); None otherwise."""
    if "$i" in item and len(item) == 1:
        return (item["$i"],)
    alternatives = item.get("$or")
    if len(item) == 1 and isinstance(alternatives, list):
        values = []
        for alternative in alternatives:
            if not (isinstance(alternative, dict) and len(alternative) == 1 and "$i" in alternative):
                return None
            values.append(alternative["$i"])
        return tuple(values)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) >= _EXACT:
        return None
    return float(value)


def _band(op: str, value: float) -> tuple[float, float]:
    """A comparison as a half-open band [low, high): `gt 5` is [5⁺, ∞), `lte 5` is (-∞, 5⁺)."""
    above = math.nextafter(value, math.inf)
    return {
        "$gte": (value, math.inf),
        "$gt": (above, math.inf),
        "$lt": (-math.inf, value),
        "$lte": (-math.inf, above),
        "eq": (value, above),
    }[op]


def _triggers(terms: list[dict], cart_keys: tuple[str, ...]) -> list[Trigger]:
    found = [Trigger(CART, cart_keys)] if cart_keys else []
    bands: dict[str, tuple[float, float]] = {}

    def narrow(field: str, op: str, value: Any) -> None:
        number = _number(value)
        if field in _UNTRIGGERED or field.startswith(_SUM_PREFIXES) or number is None:
            return
        low, high = _band(op, number)
        old_low, old_high = bands.get(field, (-math.inf, math.inf))
        bands[field] = (max(low, old_low), min(high, old_high))

    for term in terms:
        ((op, arg),) = term.items()
        if op == "$iany" and isinstance(arg, dict) and len(arg) == 1:
            ((field, item),) = arg.items()
            values = _list_values(item) if isinstance(item, dict) else None
            if values is not None and field not in _UNTRIGGERED:
                found.append(Trigger(field, values))
        elif op in ("$gte", "$gt", "$lt", "$lte") and isinstance(arg, dict) and len(arg) == 1:
            ((field, value),) = arg.items()
            narrow(field, op, value)
        elif not op.startswith("$"):
            narrow(op, "eq", arg)
    found.extend(Trigger(field, low=low, high=high) for field, (low, high) in bands.items())
    return found


def trigger_of(terms: list[dict], cart_keys: tuple[str, ...] = ()) -> Trigger | None:
    """The rule's cheapest trigger; None: the rule is consulted for every order.
    `cart_keys`: what compiler.cart_keys found in the rule's cart conditions."""
    found = _triggers(terms, cart_keys)
    return min(found, key=lambda trigger: trigger.cost) if found else None


def trigger_first(terms: list[dict], read: list[set[str]], trigger: Trigger | None) -> list[dict]:
    """The same conjunction, the trigger's own terms right after the first (the kind).
    `read[i]`: the fields `terms[i]` reads. durable-rules chains a rule's terms in order, so
    a rule whose trigger the order misses stops at its first test (for a cart key, a hash
    probe that costs nothing when the key is absent) instead of walking its window,
    customer and other tests first."""
    if trigger is None:
        return terms
    if trigger.field == CART:
        wanted = {f"{KEY_PREFIX}{value}" for value in trigger.values}
    else:
        wanted = {trigger.field}
    first = [term for term, fields in zip(terms[1:], read[1:], strict=True) if not wanted.isdisjoint(fields)]
    rest = [term for term, fields in zip(terms[1:], read[1:], strict=True) if wanted.isdisjoint(fields)]
    return [terms[0], *first, *rest]


class Bands:
    """Every band filed under one number field, answered by one bisect."""

    def __init__(self, bands: Iterable[tuple[float, float, int]]) -> None:
        bands = [(low, high, chunk) for low, high, chunk in bands if low < high]
        self.all = tuple(sorted({chunk for _, _, chunk in bands}))
        self.points = sorted({p for low, high, _ in bands for p in (low, high) if math.isfinite(p)})
        starts: dict[int, list[int]] = defaultdict(list)
        ends: dict[int, list[int]] = defaultdict(list)
        for low, high, chunk in bands:
            # segment i holds the values v with bisect_right(points, v) == i
            starts[0 if low == -math.inf else bisect_right(self.points, low)].append(chunk)
            ends[len(self.points) + 1 if high == math.inf else bisect_right(self.points, high)].append(chunk)
        active: dict[int, int] = defaultdict(int)
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.segments: list[tuple[int, ...]] = []
        for segment in range(len(self.points) + 1):
            for chunk in ends.get(segment, ()):
                active[chunk] -= 1
                if not active[chunk]:
                    del active[chunk]
            for chunk in starts.get(segment, ()):
                active[chunk] += 1
            covering = tuple(sorted(active))
            self.segments.append(shared.setdefault(covering, covering))

    def chunks(self, value: Any) -> tuple[int, ...]:
        if value is None:
            return ()  # durable-rules: a comparison on an absent property is false
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.all
        return self.segments[bisect_right(self.points, value)]


class OrderIndex:
    """Trigger -> ruleset numbers, for every order ruleset of a program."""

    def __init__(self, filed: Iterable[tuple[Trigger | None, int]]) -> None:
        always: set[int] = set()
        keys: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))
        bands: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
        for trigger, chunk in filed:
            if trigger is None:
                always.add(chunk)
            elif trigger.is_band:
                bands[trigger.field].append((trigger.low, trigger.high, chunk))
            else:
                for value in trigger.values:
                    keys[trigger.field][value].add(chunk)
        self.always = tuple(sorted(always))
        self.cart = {value: tuple(sorted(chunks)) for value, chunks in keys.pop(CART, {}).items()}
        self.lists: dict[str, tuple[dict[Any, tuple[int, ...]], tuple[int, ...]]] = {}
        for field, by_value in keys.items():
            every = tuple(sorted(set().union(*by_value.values())))
            self.lists[field] = ({value: tuple(sorted(chunks)) for value, chunks in by_value.items()}, every)
        self.bands = {field: Bands(filed_bands) for field, filed_bands in bands.items()}

    def chunks(self, fact: Mapping[str, Any], cart_keys: Iterable[str]) -> list[int]:
        """The numbers of the rulesets holding a rule this fact can match, in order."""
        found = set(self.always)
        cart = self.cart
        for key in cart_keys:
            found.update(cart.get(key, ()))
        for field, (by_value, every) in self.lists.items():
            values = fact.get(field)
            if isinstance(values, list):
                for value in values:
                    if isinstance(value, str | int) and not isinstance(value, bool):
                        found.update(by_value.get(value, ()))
                    else:
                        found.update(every)
            elif values is not None:
                found.update(every)
        for field, bands in self.bands.items():
            found.update(bands.chunks(fact.get(field)))
        return sorted(found)
