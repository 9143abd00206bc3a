"""Rule conditions -> durable-rules condition JSON, and rules -> small rulesets.

Measured limits of durable-rules 2.0.28's C engine shape everything here:
- its alpha network walks matching nodes with a 64-entry stack (events.c MAX_STACK_SIZE):
  a ruleset whose matching paths exceed it fails every assertion with error 303;
- a node's children live in a 512-slot open-addressing table (NEXT_BUCKET_LENGTH): the 512th
  sibling makes assertions loop forever.
So a ruleset never holds more than MAX_PATHS alpha paths, a condition hands durable-rules at
most value_lists.MAX_ENGINE_VALUES values (longer lists are checked in Python), and rules that can only match when
the cart holds a given sku, category or tag are indexed by it, so an order consults only the
few rulesets its lines can trigger, however many rules the program has.
Also measured: `$or` over `$neq` inside an array item (`$iall`) gives wrong answers, so
`no_line` takes a single key; `$iall` is false on an empty list (hence the `line_count: 0`
alternative for `no_line: {min_quantity}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rules import value_lists
from rules.facts import cents
from rules.model import ORDER, RuleSpec
from rules.parse import parse_when
from rules.value_lists import FLAT_KEYS, Check, is_long
from rules.value_lists import as_list as _as_list

MAX_PATHS = 32
"""Alpha paths per ruleset: half the C engine's stack, so no fact can overflow it."""

_OPS = {"gte": "$gte", "gt": "$gt", "lte": "$lte", "lt": "$lt", "ne": "$neq"}
_MONEY = {"subtotal", "shipping_amount", "lifetime_spend"}


def _compare(name: str, spec: Any, money: bool) -> list[dict]:
    conv = cents if money else (lambda v: v)
    if not isinstance(spec, dict):
        return [{name: conv(spec)}]
    terms = []
    for op, value in spec.items():
        terms.append({name: conv(value)} if op == "eq" else {_OPS[op]: {name: conv(value)}})
    return terms


def _one_of(values: list, item: str = "$i") -> dict:
    alternatives = [{item: v} for v in values]
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def _in(name: str, value: Any) -> dict:
    """`name` (a list field, see facts.py) holds one of the values."""
    return {"$iany": {name: _one_of(_as_list(value))}}


def _none_of(values: list, item: str = "$i") -> dict:
    terms = [{"$neq": {item: v}} for v in values]
    return terms[0] if len(terms) == 1 else {"$and": terms}


def _line(spec: dict) -> dict:
    terms = []
    if "sku" in spec:
        terms.append(_one_of(_as_list(spec["sku"]), "$i.sku"))
    if "category" in spec:
        terms.append(_one_of(_as_list(spec["category"]), "$i.category"))
    if "tag" in spec:
        terms.append({"$iany": {"$i.tags": _one_of(_as_list(spec["tag"]))}})
    if "min_quantity" in spec:
        terms.append({"$gte": {"$i.quantity": spec["min_quantity"]}})
    return terms[0] if len(terms) == 1 else {"$and": terms}


KEY_PREFIX = "k:"
_MAX_ALTERNATIVES = 4


def fact_key(kind: str, value: str) -> str:
    """The fact property saying "some line has this sku/category/tag" (see facts.py)."""
    return f"{KEY_PREFIX}{kind}:{value}"


def _any_line(spec: dict) -> tuple[dict, int]:
    """(term, alpha paths). One key with few values tests key properties: durable-rules finds
    them by hashing the fact's property names, so absent keys cost nothing, where a list
    condition is scanned rule by rule."""
    if len(spec) == 1 and next(iter(spec)) in FLAT_KEYS:
        ((key, value),) = spec.items()
        values = _as_list(value)
        if len(values) <= _MAX_ALTERNATIVES:
            alternatives = [{"$ex": {fact_key(key, v): 1}} for v in values]
            return (alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}), len(alternatives)
    return {"$iany": {"lines": _line(spec)}}, 1


def _no_line(spec: dict) -> tuple[dict, int]:
    """(term, alpha paths)."""
    ((key, value),) = spec.items()
    if key in FLAT_KEYS:
        terms = [{"$nex": {fact_key(key, v): 1}} for v in _as_list(value)]
        return (terms[0] if len(terms) == 1 else {"$and": terms}), 1
    pred = {"$lt": {"$i.quantity": value}}
    return {"$or": [{"line_count": 0}, {"$iall": {"lines": pred}}]}, 2


def _all_lines(spec: dict) -> tuple[dict, int]:
    """(term, alpha paths)."""
    return {"$iall": {"lines": _line(spec)}}, 1


_CART = (
    ("any_line", _any_line, value_lists.any_line),
    ("all_lines", _all_lines, value_lists.all_lines),
    ("no_line", _no_line, value_lists.no_line),
)
"""Cart conditions: how durable-rules tests each, and how Python does when a list is long."""


def referenced_keys(rule: RuleSpec) -> tuple[set[str], set[str]]:
    """(keys any_line tests as properties, keys no_line tests): what order facts must carry."""
    cart = rule.when.get("cart", {})
    positive: set[str] = set()
    negative: set[str] = set()
    any_line, no_line = cart.get("any_line", {}), cart.get("no_line", {})
    if len(any_line) == 1 and next(iter(any_line)) in FLAT_KEYS:
        ((key, value),) = any_line.items()
        if len(_as_list(value)) <= _MAX_ALTERNATIVES:
            positive = {fact_key(key, v) for v in _as_list(value)}
    for key, value in no_line.items():
        if key in FLAT_KEYS and not is_long(value):
            negative = {fact_key(key, v) for v in _as_list(value)}
    return positive, negative


def condition_terms(rule: RuleSpec) -> tuple[list[dict], int, list[Check]]:
    """The rule's conditions as a conjunction of durable-rules terms, its alpha path count, and
    the conditions on long value lists, checked in Python on what the engine matched."""
    when = rule.when
    checks: list[Check] = []

    def one_of(field: str, values: Any) -> None:
        if is_long(values):
            checks.append(value_lists.any_of(field, values))
        else:
            terms.append(_in(field, values))

    terms: list[dict] = [{"kind": "order"}] if rule.on == ORDER else [{"event_type": rule.on}]
    paths = 1
    if rule.active_from is not None:
        terms.append({"$gte": {"now": int(rule.active_from.timestamp())}})
    if rule.active_until is not None:
        terms.append({"$lt": {"now": int(rule.active_until.timestamp())}})
    if rule.needs_customer:
        terms.append({"customer": 1})
    for name, spec in when.get("order", {}).items():
        if name in ("currency", "country"):
            one_of(name, spec)
        elif name == "coupon":
            one_of("coupons", [c.upper() for c in _as_list(spec)])
        else:
            terms.extend(_compare(name, spec, name in _MONEY))
    cart = when.get("cart", {})
    for key, in_engine, in_python in _CART:
        if key not in cart:
            continue
        if value_lists.has_long(cart[key]):
            checks.append(in_python(cart[key]))
        else:
            term, more = in_engine(cart[key])
            terms.append(term)
            paths *= more
    for name, spec in when.get("customer", {}).items():
        if name == "tier":
            one_of("tier", spec)
        elif name == "tag":
            one_of("customer_tags", spec)
        elif name == "no_tag" and is_long(spec):
            checks.append(value_lists.none_of("customer_tags", spec))
        elif name == "no_tag":
            terms.append({"$iall": {"customer_tags": _none_of(_as_list(spec))}})
        elif name == "birthday_month":
            terms.append({"birthday_month": 1 if spec else 0})
        else:
            terms.extend(_compare(name, spec, name in _MONEY))
    for name, spec in when.get("time", {}).items():
        if name in ("weekday", "month"):
            one_of(name, spec)
        elif name == "hour":
            terms.extend(_compare("hour", spec, False))
        elif name == "between":
            terms.extend(_window_terms(spec))
    for name, spec in when.get("event", {}).items():
        field_name = f"e_{name}"
        if isinstance(spec, bool):
            terms.append({field_name: 1 if spec else 0})
        elif isinstance(spec, str) or (isinstance(spec, list) and all(isinstance(v, str) for v in spec)):
            one_of(field_name, spec)
        else:
            terms.extend(_compare(field_name, spec, False))
    return terms, paths, checks


def _window_terms(window: dict) -> list[dict]:
    terms = []
    if "from" in window:
        terms.append({"$gte": {"now": int(parse_when(window["from"])[0].timestamp())}})
    if "until" in window:
        until, bare = parse_when(window["until"])
        terms.append({"$lt": {"now": int((until + timedelta(days=1) if bare else until).timestamp())}})
    return terms


def index_keys(rule: RuleSpec) -> tuple[str, ...]:
    """Keys an order must contain for this rule to possibly match; () when it is not indexable."""
    any_line = rule.when.get("cart", {}).get("any_line")
    if rule.on != ORDER or not any_line:
        return ()
    for key in ("sku", "category", "tag"):
        if key in any_line:
            return tuple(f"{key}:{v}" for v in _as_list(any_line[key]))
    return ()


def describe(rule: RuleSpec) -> str:
    """The conditions in one line, for traces."""
    parts = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else key, sub)
        else:
            parts.append(f"{prefix}={value}")

    walk("", rule.when)
    return ", ".join(parts) if parts else "no conditions"


@dataclass
class ChunkPlan:
    """Rules that will share one durable-rules ruleset."""

    rules: list[RuleSpec] = field(default_factory=list)
    paths: int = 0


def plan_chunks(rules: list[tuple[RuleSpec, int]]) -> list[ChunkPlan]:
    """Pack (rule, paths) in order into rulesets of at most MAX_PATHS paths."""
    chunks: list[ChunkPlan] = []
    for rule, paths in rules:
        if not chunks or chunks[-1].paths + paths > MAX_PATHS:
            chunks.append(ChunkPlan())
        chunks[-1].rules.append(rule)
        chunks[-1].paths += paths
    return chunks
