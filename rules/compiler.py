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
Line filters other than a single sku, category or tag are tested by the count of matching
lines (see _CART), as inside any/all/not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules import conditions, value_lists
from rules.conditions import WhenCompiler
from rules.facts import cents
from rules.model import ORDER, AttributeType, RuleSpec
from rules.value_lists import COMPARISONS, FLAT_KEYS, Check, is_long
from rules.value_lists import as_list as _as_list

MAX_PATHS = 32
"""Alpha paths per ruleset: half the C engine's stack, so no fact can overflow it."""


KEY_PREFIX = "k:"
_MAX_ALTERNATIVES = 4


def fact_key(kind: str, value: str) -> str:
    """The fact property saying "some line has this sku/category/tag" (see facts.py)."""
    return f"{KEY_PREFIX}{kind}:{value}"


def _flat(key: str, spec: dict) -> bool:
    """A single sku, category or tag key that durable-rules tests as key properties: few
    values for any_line (each is an alternative path), any short list for no_line."""
    if len(spec) != 1 or next(iter(spec)) not in FLAT_KEYS:
        return False
    return key == "no_line" or len(_as_list(next(iter(spec.values())))) <= _MAX_ALTERNATIVES


def _any_line(spec: dict) -> dict:
    """Key properties: durable-rules finds them by hashing the fact's property names, so
    absent keys cost nothing, where a list condition is scanned rule by rule."""
    ((key, value),) = spec.items()
    alternatives = [{"$ex": {fact_key(key, v): 1}} for v in _as_list(value)]
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def _no_line(spec: dict) -> dict:
    ((key, value),) = spec.items()
    terms = [{"$nex": {fact_key(key, v): 1}} for v in _as_list(value)]
    return terms[0] if len(terms) == 1 else {"$and": terms}


_CART = (
    ("any_line", _any_line, value_lists.any_line),
    ("all_lines", None, value_lists.all_lines),
    ("no_line", _no_line, value_lists.no_line),
)
"""Cart conditions: how durable-rules tests a single flat key (None: never), and how Python
does when a list is long. Other line filters are tested by their matching-line counts
(conditions.WhenCompiler.counted): measured, a ruleset testing the lines themselves
(`$iany`/`$iall` over `lines`) costs 1 to 3 ms per assertion of a 10-line cart, against
tens of µs for the same ruleset on counts, since the engine walks every line object for
every such node; the counts cost a few µs each in Python (rules/lines.py)."""


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


def experiment_field(experiment: str) -> str:
    return f"x:{experiment}"


@dataclass
class Compiled:
    """A rule's durable-rules terms (a conjunction), their alpha paths, the conditions left
    to Python (long value lists) and the line filters whose sums the order fact must carry."""

    terms: list[dict]
    paths: int
    checks: list[Check]
    filters: dict[str, dict]
    reads_lines: bool = False
    """Some check reads the fact's line objects (a long sku, category or tag list)."""


def condition_terms(rule: RuleSpec, attributes: Mapping[str, AttributeType] | None = None) -> Compiled:
    compiler = WhenCompiler(attributes or {})
    terms: list[dict] = [{"kind": "order"}] if rule.on == ORDER else [{"event_type": rule.on}]
    if rule.active_from is not None:
        terms.append({"$gte": {"now": int(rule.active_from.timestamp())}})
    if rule.active_until is not None:
        terms.append({"$lt": {"now": int(rule.active_until.timestamp())}})
    if rule.needs_customer:
        terms.append({"customer": 1})
    if rule.experiment is not None:
        terms.append({"$iany": {experiment_field(rule.experiment): {"$i": rule.variant}}})

    reads_lines = False

    def cart_terms(cart: dict) -> list[dict]:
        nonlocal reads_lines
        found = []
        for key, as_keys, in_python in _CART:
            if key not in cart:
                continue
            if value_lists.has_long(cart[key]):
                compiler.checks.append(in_python(cart[key]))
                reads_lines = True
            elif as_keys is not None and _flat(key, cart[key]):
                found.append(as_keys(cart[key]))
            else:
                found.extend(compiler.counted({key: cart[key]}))
        return found

    terms.extend(compiler.terms(rule.when, cart_terms=cart_terms))
    paths = 1
    for term in terms:
        paths *= conditions.paths(term)
    return Compiled(terms, paths, compiler.checks, compiler.filters, reads_lines)


def index_keys(rule: RuleSpec) -> tuple[str, ...]:
    """Keys an order must contain for this rule to possibly match; () when it is not indexable."""
    any_line = rule.when.get("cart", {}).get("any_line")
    if rule.on != ORDER or not any_line:
        return ()
    for key in ("sku", "category", "tag"):
        if key in any_line:
            return tuple(f"{key}:{v}" for v in _as_list(any_line[key]))
    return ()


def cart_keys(rule: RuleSpec) -> tuple[str, ...]:
    """Keys (`sku:X`, `category:X`, `tag:X`) one of which the cart must hold for the rule to
    match: `index_keys`, or those of `all_lines` (true only for a cart with lines), or of a
    sum's line filter when the sum's condition fails at zero. () when none is required."""
    found = index_keys(rule)
    if found or rule.on != ORDER:
        return found
    cart = rule.when.get("cart", {})
    summed = cart.get("sum", {})
    if "lines" in summed and not all(_holds_at_zero(summed, key) for key in ("value", "quantity") if key in summed):
        found = _filter_keys(summed["lines"])
    return found or _filter_keys(cart.get("all_lines", {}))


def _filter_keys(spec: dict) -> tuple[str, ...]:
    for key in FLAT_KEYS:
        if key in spec:
            return tuple(f"{key}:{v}" for v in _as_list(spec[key]))
    return ()


def _holds_at_zero(summed: dict, key: str) -> bool:
    """Whether the sum's `value` or `quantity` condition holds when no line matches (as the
    compiled term compares it: value in cents)."""
    convert = cents if key == "value" else (lambda v: v)
    spec = summed[key]
    if not isinstance(spec, dict):
        return convert(spec) == 0
    return all(COMPARISONS[op](0, convert(limit)) for op, limit in spec.items())


def term_fields(terms: list[dict]) -> set[str]:
    """The fact properties the terms read."""
    found: set[str] = set()
    for term in terms:
        for op, arg in term.items():
            if op in ("$and", "$or"):
                found |= term_fields(arg)
            elif op.startswith("$"):
                found.update(arg)  # {$gte: {field: x}}, {$iany: {field: item}}, {$ex: {field: 1}}...
            else:
                found.add(op)
    return found


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
