"""A program's rules as durable-rules rulesets, and a fact -> the rules whose conditions it meets.

Rules whose compiled conditions are the same (a tier offer repeated by many campaigns, the
same spend band in several exclusive groups) share one durable-rules rule: the engine
tests it and fires it once, and the match counts for each of them. Each such *condition*
is filed under its trigger (rules/triggers.py); conditions are packed into rulesets in
trigger order, so that an order's triggers reach few rulesets, and an order is asserted
only into those (`OrderIndex`). Measured costs that shape this (durable-rules 2.0.28, see
engine.py): an assertion costs about (the nodes the fact reaches) x (the fact's properties),
so each ruleset gets only the fact fields its rules read; a fired rule costs a few µs more,
so shared conditions fire once.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.program import OrderFacts
from rules import engine
from rules.compiler import KEY_PREFIX, MAX_PATHS, cart_keys, condition_terms, referenced_keys, term_fields
from rules.errors import RuleError, RuleFileErrors
from rules.facts import cents
from rules.lines import CompiledFilter, LineSums
from rules.model import ORDER, AttributeType, RuleSpec
from rules.triggers import CART, OrderIndex, Trigger, trigger_first, trigger_of
from rules.value_lists import Check

MAX_PROPERTIES = 250
"""Properties per fact: durable-rules refuses more than 255 (error 302), sid and id included."""
_SUM_PREFIXES = ("n:", "q:", "v:", "m:")


@dataclass
class _Condition:
    """One durable-rules rule: the compiled conditions that `rules` share."""

    name: str
    terms: list[dict]
    paths: int
    trigger: Trigger | None
    fields: frozenset[str]
    """The fact properties its terms read."""
    rules: list[RuleSpec] = field(default_factory=list)


class _Chunk:
    """One durable-rules ruleset and the fact fields its rules read."""

    def __init__(self, conditions: list[_Condition]) -> None:
        self.conditions = conditions
        try:
            self.ruleset = engine.build([(c.name, c.terms) for c in conditions])
        except Exception as exc:  # noqa: BLE001 - re-raised as the culprit rule's error
            raise _culprit(conditions, exc) from exc
        read = set().union(*(c.fields for c in conditions))
        self.fields = tuple(sorted(name for name in read if not name.startswith((KEY_PREFIX, *_SUM_PREFIXES))))
        # Line-filter sums are summed only for the rules whose cart key the order holds (or
        # that have none): a rule whose trigger the order misses cannot match whatever its
        # sums, and most rules here sum lines of their own category.
        sums: set[str] = set()
        keyed: dict[str, set[str]] = defaultdict(set)
        for condition in conditions:
            own = {name for name in condition.fields if name.startswith(_SUM_PREFIXES)}
            trigger = condition.trigger
            if trigger is not None and trigger.field == CART:
                for key in trigger.values:
                    keyed[key] |= own
            else:
                sums |= own
        self.sums = frozenset(sums)
        self.keyed_sums = {key: frozenset(names) for key, names in keyed.items() if names}
        keys = [referenced_keys(c.rules[0]) for c in conditions]
        self.negative = frozenset().union(*(negative for _, negative in keys))
        self.positive = frozenset().union(*(positive for positive, _ in keys)) - self.negative

    def sums_for(self, keys: set[str]) -> set[str]:
        """The sum fields this ruleset needs for a cart with these keys (facts.order_keys)."""
        found = set(self.sums)
        for key, names in self.keyed_sums.items():
            if key in keys:
                found |= names
        return found

    def texts(self, encoded: _Encoded, cart: set[str], sums: Iterable[str] = ()) -> list[str]:
        """The fact as this ruleset gets it: only the fields its rules read. Measured: an
        assertion costs about (nodes the fact reaches) x (the fact's properties), so a 60-field
        fact made every ruleset 5 to 10 times dearer than the few fields each reads.

        A huge cart is split: each text carries every no_line key of the cart that the
        ruleset tests (a rule must see all of them) and a share of the any_line keys; a rule
        tests any_line keys as alternatives, so the union of the texts' matches is exactly
        the matches of the whole cart (durable-rules allows 255 properties per fact).
        """
        parts = [part for part in map(encoded.__getitem__, self.fields) if part]
        parts.extend(part for part in map(encoded.__getitem__, sums) if part)
        if self.negative and cart:
            parts.extend(map(encoded.key, cart & self.negative))
        positive = sorted(cart & self.positive) if self.positive and cart else []
        head = ",".join(parts)
        if not positive:
            return [f"{{{head},{_ID}}}"]
        room = MAX_PROPERTIES - len(parts)
        if room <= 0:
            raise ValueError(f"cart too large: {len(cart & self.negative)} skus/categories/tags tested by no_line")
        return [
            f"{{{head},{','.join(map(encoded.key, positive[i : i + room]))},{_ID}}}"
            for i in range(0, len(positive), room)
        ]


class _Encoded(dict[str, str]):
    """`"name":value` of each fact field, encoded once per evaluation ('' when absent): a
    field most rulesets read (kind, customer, tier...) is not encoded again for each."""

    def __init__(self, fact: dict[str, Any], sums: dict[str, int]) -> None:
        super().__init__()
        self.fact = fact
        self.sums = sums

    def __missing__(self, name: str) -> str:
        value = self.sums[name] if name in self.sums else self.fact.get(name)
        if value is None:
            part = ""
        elif type(value) is int:
            part = f"{_name(name)}:{value}"
        else:
            part = f"{_name(name)}:{_COMPACT.encode(value)}"
        self[name] = part
        return part

    def key(self, key: str) -> str:
        return f"{_name(key)}:1"


_ID = f'"sid":"{engine.SID}","id":"f"'
# One encoder, made once: json.dumps with any option but the defaults builds a new
# JSONEncoder on every call, a measurable part of encoding an order's fact.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


@functools.lru_cache(maxsize=100_000)
def _name(name: str) -> str:
    return json.dumps(name)


def _pack(conditions: list[_Condition]) -> list[_Chunk]:
    """Conditions in order, into rulesets of at most MAX_PATHS alpha paths (compiler.py)."""
    plans: list[list[_Condition]] = []
    paths = 0
    for condition in conditions:
        if not plans or paths + condition.paths > MAX_PATHS:
            plans.append([])
            paths = 0
        plans[-1].append(condition)
        paths += condition.paths
    return [_Chunk(plan) for plan in plans]


class Matcher:
    """Immutable once built; `match_order` and `match_event` are safe from any thread."""

    def __init__(self, rules: Sequence[RuleSpec], attributes: dict[str, AttributeType]) -> None:
        self._checks: dict[str, list[Check]] = {}
        self._filters: dict[str, CompiledFilter] = {}
        self.reads_lines = False
        """Whether `match_order` needs the order fact's line objects (facts.order_fact)."""
        shared: dict[str, _Condition] = {}
        too_many: list[RuleError] = []
        for rule in rules:
            compiled = condition_terms(rule, attributes)
            if compiled.paths > MAX_PATHS:
                message = (
                    f"rule '{rule.id}': its conditions have {compiled.paths} alternatives once any/not are written"
                    f" out (at most {MAX_PATHS}); split it into several rules in one exclusive group"
                )
                too_many.append(RuleError(rule.file, rule.line, rule.col, message, rule.id))
            for filter_id, spec in compiled.filters.items():
                if filter_id not in self._filters:
                    self._filters[filter_id] = CompiledFilter(spec)
            self.reads_lines = self.reads_lines or compiled.reads_lines
            if compiled.checks:  # checked per rule after the match: not shared
                self._checks[rule.id] = compiled.checks
                key = f"rule {rule.id}"
            else:
                key = json.dumps(compiled.terms)  # the compiler writes equal conditions alike
            condition = shared.get(key)
            if condition is None:
                trigger = trigger_of(compiled.terms, cart_keys(rule)) if rule.on == ORDER else None
                read = [term_fields([term]) for term in compiled.terms]
                terms = trigger_first(compiled.terms, read, trigger)
                fields = frozenset().union(*read)
                condition = _Condition(str(len(shared)), terms, compiled.paths, trigger, fields)
                shared[key] = condition
            condition.rules.append(rule)
        if too_many:
            raise RuleFileErrors(too_many)
        self._conditions = {condition.name: condition for condition in shared.values()}
        self._sum_fields = {  # see lines.count_field and the others
            f"{prefix}{filter_id}": (line_filter, read)
            for filter_id, line_filter in self._filters.items()
            for prefix, read in _COUNTS.items()
        }
        on_order = [c for c in shared.values() if c.rules[0].on == ORDER]
        on_order.sort(key=lambda c: (c.trigger.sort_key() if c.trigger else (2,), c.rules[0].position))
        self._order_chunks = _pack(on_order)
        self._index = OrderIndex(
            (condition.trigger, number)
            for number, chunk in enumerate(self._order_chunks)
            for condition in chunk.conditions
        )
        by_event: dict[str, list[_Condition]] = defaultdict(list)
        for condition in shared.values():
            if condition.rules[0].on != ORDER:
                by_event[condition.rules[0].on].append(condition)
        self._event_chunks = {on: _pack(conditions) for on, conditions in by_event.items()}

    @property
    def ruleset_count(self) -> int:
        return len(self._order_chunks) + sum(len(chunks) for chunks in self._event_chunks.values())

    def match_order(self, fact: dict[str, Any], order: OrderFacts, keys: set[str]) -> list[RuleSpec]:
        """Rules whose conditions the order fact meets. `keys`: facts.order_keys(order)."""
        chunks = [self._order_chunks[number] for number in self._index.chunks(fact, keys)]
        if not chunks:
            return []
        cart = {f"{KEY_PREFIX}{key}" for key in keys}
        reads = [(chunk, chunk.sums_for(keys)) for chunk in chunks]
        encoded = _Encoded(fact, self._sums(set().union(*(sums for _, sums in reads)), order, keys))
        return self._run([(chunk, chunk.texts(encoded, cart, sums)) for chunk, sums in reads], fact)

    def match_event(self, event_type: str, fact: dict[str, Any]) -> list[RuleSpec]:
        chunks = self._event_chunks.get(event_type, [])
        encoded = _Encoded(fact, {})
        return self._run([(chunk, chunk.texts(encoded, set())) for chunk in chunks], fact)

    def _run(self, plan: list[tuple[_Chunk, list[str]]], fact: dict[str, Any]) -> list[RuleSpec]:
        fired: dict[str, None] = {}
        with engine.LOCK:
            engine.free_released()
            for chunk, texts in plan:
                for text in texts:
                    for name in chunk.ruleset.matches(text):
                        fired[name] = None
        conditions, checks = self._conditions, self._checks
        matched: list[RuleSpec] = []
        for name in fired:
            for rule in conditions[name].rules:
                rule_checks = checks.get(rule.id) if checks else None
                if rule_checks is None or all(check(fact) for check in rule_checks):
                    matched.append(rule)
        return matched

    def _sums(self, names: set[str], order: OrderFacts, keys: set[str]) -> dict[str, int]:
        """Line-filter fields (rules/lines.py) of the order, each filter summed once."""
        found: dict[CompiledFilter, LineSums] = {}
        out: dict[str, int] = {}
        fields = self._sum_fields
        for name in names:
            line_filter, read = fields[name]
            sums = found.get(line_filter)
            if sums is None:
                sums = found[line_filter] = line_filter.sums(order, keys)
            out[name] = read(sums)
        return out


_COUNTS: dict[str, Callable[[LineSums], int]] = {
    "n:": lambda sums: sums.count,
    "q:": lambda sums: sums.quantity,
    "m:": lambda sums: sums.others,
    "v:": lambda sums: cents(sums.value),
}


def _culprit(conditions: list[_Condition], exc: Exception) -> RuleFileErrors:
    """durable-rules refused a ruleset: find the rule it refuses alone, and point at it."""
    for condition in conditions:
        rule = condition.rules[0]
        try:
            engine.build([(rule.id, condition.terms)])
        except Exception as alone:  # noqa: BLE001 - this is the answer
            message = f"rule '{rule.id}': durable-rules cannot compile it ({alone})"
            if "error code: 113" in str(alone):  # measured: ~14 composite alternatives in one $or
                message = (
                    f"rule '{rule.id}': its conditions have too many alternatives once any/not are written out"
                    " for durable-rules (error 113); split it into several rules in one exclusive group"
                )
            return RuleFileErrors([RuleError(rule.file, rule.line, rule.col, message, rule.id)])
    first = conditions[0].rules[0]
    message = f"durable-rules cannot compile the rules from '{first.id}' on together ({exc})"
    return RuleFileErrors([RuleError(first.file, first.line, first.col, message, first.id)])
