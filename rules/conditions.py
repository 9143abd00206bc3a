"""A rule's `when` -> durable-rules condition terms, with `any`, `all` and `not`.

Top-level conditions compile as they always did (compiler.py: key properties for the cart,
long value lists left to Python). Inside `any`, `all` and `not` every condition is a plain
durable-rules term, and cart conditions test the matching lines' count (rules/lines.py), so
that `not` can be written out by De Morgan: durable-rules has no negation of a term.
Measured (durable-rules 2.0.28): a comparison on an absent property is false, whatever the
operator, so the negation of a test on a property that may be absent (days since the last
order, an event or customer attribute) also accepts its absence (`$nex`); `$iall` is false on
an empty list, so every list field ends with a sentinel (facts.py) and "none of" stays true.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from rules import lines as line_filters
from rules import value_lists
from rules.facts import cents
from rules.model import AttributeType
from rules.parse import parse_when
from rules.value_lists import Check, is_long
from rules.value_lists import as_list as _as_list

OPS = {"gte": "$gte", "gt": "$gt", "lte": "$lte", "lt": "$lt", "ne": "$neq"}
_INVERSE = {"$gte": "$lt", "$gt": "$lte", "$lte": "$gt", "$lt": "$gte"}
MONEY = {"subtotal", "shipping_amount", "lifetime_spend"}
BOOLEAN_OPERATORS = ("any", "all", "not")
_OPTIONAL = {"days_since_last_order", "days_since_enrolled", "birthday_month"}


def attribute_field(name: str) -> str:
    return f"a:{name}"


def compare(name: str, spec: Any, conv=lambda v: v) -> list[dict]:
    if not isinstance(spec, dict):
        return [{name: conv(spec)}]
    return [{name: conv(value)} if op == "eq" else {OPS[op]: {name: conv(value)}} for op, value in spec.items()]


def one_of(values: list, item: str = "$i") -> dict:
    alternatives = [{item: v} for v in values]
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def is_in(name: str, value: Any) -> dict:
    """`name` (a list field, see facts.py) holds one of the values."""
    return {"$iany": {name: one_of(_as_list(value))}}


def none_of(values: list, item: str = "$i") -> dict:
    terms = [{"$neq": {item: v}} for v in values]
    return terms[0] if len(terms) == 1 else {"$and": terms}


def conjunction(terms: list[dict]) -> dict:
    return terms[0] if len(terms) == 1 else {"$and": terms}


def paths(term: dict) -> int:
    """Alpha-network paths a term adds: alternatives add up, conjunctions multiply."""
    ((op, arg),) = term.items()
    if op == "$or":
        return sum(paths(t) for t in arg)
    if op == "$and":
        product = 1
        for t in arg:
            product *= paths(t)
        return product
    return 1


def _optional(name: str) -> bool:
    return name in _OPTIONAL or name.startswith(("e_", "a:"))


def _negate_item(term: dict) -> dict:
    """Negation inside `$iany`/`$iall` (a list item, `$i`)."""
    ((op, arg),) = term.items()
    if op == "$or":
        return {"$and": [_negate_item(t) for t in arg]}
    if op == "$and":
        return {"$or": [_negate_item(t) for t in arg]}
    if op == "$neq":
        return dict(arg)
    return {"$neq": dict(term)}


def negate(term: dict, guard: bool = True) -> dict:
    """The term's negation. `guard`: also accept an absent optional property; a guarded
    negation `{$or: [{$nex: p}, X]}` negates back to X's plain negation (false when p is
    absent), so double negations do not grow (grown ones hit durable-rules' error 113)."""
    ((op, arg),) = term.items()
    if op == "$or" and len(arg) == 2 and "$nex" in arg[0]:
        return negate(arg[1], guard=False)
    if op == "$and":
        return {"$or": [negate(t) for t in arg]}
    if op == "$or":
        return {"$and": [negate(t) for t in arg]}
    if op in ("$iany", "$iall"):
        ((name, item),) = arg.items()
        flipped = {("$iall" if op == "$iany" else "$iany"): {name: _negate_item(item)}}
        return {"$or": [{"$nex": {name: 1}}, flipped]} if guard and _optional(name) else flipped
    if op in ("$ex", "$nex"):
        return {("$nex" if op == "$ex" else "$ex"): arg}
    ((name, value),) = arg.items() if op.startswith("$") else term.items()
    if op in _INVERSE:
        flipped = {_INVERSE[op]: {name: value}}
    elif op == "$neq":
        flipped = {name: value}
    else:
        flipped = {"$neq": {name: value}}
    return {"$or": [{"$nex": {name: 1}}, flipped]} if guard and _optional(name) else flipped


class WhenCompiler:
    """Compiles one rule's `when`; collects the Python checks and line filters it needs."""

    def __init__(self, attributes: Mapping[str, AttributeType]) -> None:
        self.attributes = attributes
        self.checks: list[Check] = []
        self.filters: dict[str, dict] = {}

    def terms(self, when: dict, nested: bool = False, cart_terms=None) -> list[dict]:
        terms: list[dict] = []

        def values(field: str, spec: Any) -> None:
            if is_long(spec) and not nested:
                self.checks.append(value_lists.any_of(field, spec))
            else:
                terms.append(is_in(field, spec))

        for name, spec in when.get("order", {}).items():
            if name in ("currency", "country"):
                values(name, spec)
            elif name == "coupon":
                values("coupons", [c.upper() for c in _as_list(spec)])
            else:
                terms.extend(compare(name, spec, cents if name in MONEY else (lambda v: v)))
        cart = when.get("cart", {})
        if cart:
            plain = {k: v for k, v in cart.items() if k != "sum"}
            if plain:
                terms.extend(self.counted(plain) if nested or cart_terms is None else cart_terms(plain))
            if "sum" in cart:
                terms.extend(self._sum(cart["sum"]))
        self._customer(when.get("customer", {}), terms, values, nested)
        self._time(when.get("time", {}), terms, values)
        for name, spec in when.get("event", {}).items():
            field_name = f"e_{name}"
            if isinstance(spec, bool):
                terms.append({field_name: 1 if spec else 0})
            elif isinstance(spec, str) or (isinstance(spec, list) and all(isinstance(v, str) for v in spec)):
                values(field_name, spec)
            else:
                terms.extend(compare(field_name, spec))
        for sub in when.get("all", []):
            terms.extend(self.terms(sub, nested=True))
        if "any" in when:
            terms.append(
                {"$or": [conjunction(self.terms(sub, nested=True) or [{"$ex": {"kind": 1}}]) for sub in when["any"]]}
            )
        if "not" in when:
            inner = self.terms(when["not"], nested=True)
            if inner:
                terms.append(negate(conjunction(inner)))
        return terms

    def _customer(self, customer: dict, terms: list[dict], values, nested: bool) -> None:
        for name, spec in customer.items():
            if name == "tier":
                values("tier", spec)
            elif name == "tag":
                values("customer_tags", spec)
            elif name == "no_tag" and is_long(spec) and not nested:
                self.checks.append(value_lists.none_of("customer_tags", spec))
            elif name == "no_tag":
                terms.append({"$iall": {"customer_tags": none_of(_as_list(spec))}})
            elif name in ("birthday_month", "referred"):
                terms.append({name: 1 if spec else 0})
            elif name == "attributes":
                for attribute, condition in spec.items():
                    terms.extend(self._attribute(attribute, condition))
            else:
                terms.extend(compare(name, spec, cents if name in MONEY else (lambda v: v)))

    def _attribute(self, name: str, spec: Any) -> list[dict]:
        field = attribute_field(name)
        declared = self.attributes[name]
        if declared.kind == "boolean":
            return [{field: 1 if spec else 0}]
        if declared.kind in ("string", "one_of"):
            return [is_in(field, spec)]
        if declared.kind == "date":
            terms: list[dict] = []
            for op, value in spec.items():
                if op == "month":
                    terms.append(is_in(f"{field}:month", value))
                else:
                    terms.extend(compare(field, {op: value}, lambda v: parse_when(str(v))[0].toordinal()))
            return terms
        return compare(field, spec)

    def _time(self, time: dict, terms: list[dict], values) -> None:
        for name, spec in time.items():
            if name in ("weekday", "month"):
                values(name, spec)
            elif name == "week_of_month":
                values(name, [-1 if v == "last" else v for v in _as_list(spec)])
            elif name in ("hour", "day"):
                terms.extend(compare(name, spec))
            elif name == "between":
                terms.extend(window_terms(spec))

    def _filter(self, spec: dict | None) -> dict:
        canonical = line_filters.canonical(spec or {})
        self.filters[line_filters.filter_id(canonical)] = canonical
        return canonical

    def counted(self, cart: dict) -> list[dict]:
        """Cart line conditions as tests of how many lines match (see rules/lines.py)."""
        terms: list[dict] = []
        for key, spec in cart.items():
            count = line_filters.count_field(self._filter(spec))
            if key == "any_line":
                terms.append({"$gt": {count: 0}})
            elif key == "no_line":
                terms.append({count: 0})
            else:  # all_lines: some line, and no line that does not match
                terms.extend([{"$gt": {"line_count": 0}}, {line_filters.other_field(self._filter(spec)): 0}])
        return terms

    def _sum(self, spec: dict) -> list[dict]:
        chosen = self._filter(spec.get("lines"))
        terms = []
        if "value" in spec:
            terms.extend(compare(line_filters.value_field(chosen), spec["value"], cents))
        if "quantity" in spec:
            terms.extend(compare(line_filters.quantity_field(chosen), spec["quantity"]))
        return terms


def window_terms(window: dict) -> list[dict]:
    terms = []
    if "from" in window:
        terms.append({"$gte": {"now": int(parse_when(window["from"])[0].timestamp())}})
    if "until" in window:
        until, bare = parse_when(window["until"])
        terms.append({"$lt": {"now": int((until + timedelta(days=1) if bare else until).timestamp())}})
    return terms
