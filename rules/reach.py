"""What a rule needs to have been seen to fire: the skus, categories, coupons, tiers and
event type it names where they must hold (`loyalty rules check --against-db`).

A rule's needs are a conjunction: each is "one of these values of this kind" (a list in a
rule file means any of them), or "one of these alternatives" for an `any`. Names under
`not`, and `no_line`, never stop a rule: an unseen value makes them hold. A sum over lines
needs its lines only when its comparison refuses an empty sum (`value: {gte: 50}` does,
`value: {lt: 10}` does not). An effect on `lines` gives nothing without such a line, so
its filter is a need too. What is reported is only what certainly cannot happen: a sku and
a category each seen, but never on one line, are not reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rules.model import ORDER, RuleSpec
from rules.value_lists import COMPARISONS, as_list

KINDS = ("sku", "category", "coupon", "tier", "event_type")


@dataclass(frozen=True)
class Names:
    """One of these values of this kind must have been seen."""

    kind: str
    values: tuple[str, ...]
    where: str
    """Where the rule names them: `when.cart.any_line.sku`."""


@dataclass(frozen=True)
class AnyOf:
    """Every need of at least one branch."""

    branches: tuple[tuple[Need, ...], ...]
    where: str


Need = Names | AnyOf
Seen = Mapping[str, set[str]]
"""kind -> the values of it seen."""


def needs(rule: RuleSpec) -> tuple[Need, ...]:
    found = list(_conditions(rule.when, "when"))
    if rule.on != ORDER:
        found.append(Names("event_type", (rule.on,), "on"))
    for kind, effect in (("points", rule.points), ("discount", rule.discount)):
        lines = getattr(effect, "lines", None)
        if lines:
            found.extend(_line_filter(lines, f"then.{kind}.lines"))
    return tuple(found)


def named(rules: list[RuleSpec] | tuple[RuleSpec, ...]) -> dict[str, set[str]]:
    """kind -> every value the rules' needs name (what to look for in the data)."""
    out: dict[str, set[str]] = {kind: set() for kind in KINDS}

    def collect(need: Need) -> None:
        if isinstance(need, Names):
            out[need.kind].update(need.values)
        else:
            for branch in need.branches:
                for sub in branch:
                    collect(sub)

    for rule in rules:
        for need in needs(rule):
            collect(need)
    return out


def unmet(rule: RuleSpec, seen: Seen) -> list[str]:
    """Why the rule cannot fire given what was seen, one reason per unmet need; [] when it can."""
    return [reason for need in needs(rule) if (reason := _unmet(need, seen))]


def _unmet(need: Need, seen: Seen) -> str | None:
    if isinstance(need, Names):
        if any(_normal(need.kind, value) in seen.get(need.kind, set()) for value in need.values):
            return None
        return f"{need.where}: {_describe(need)}"
    reasons = []
    for branch in need.branches:
        branch_reasons = [reason for sub in branch if (reason := _unmet(sub, seen))]
        if not branch_reasons:
            return None
        reasons.append(branch_reasons[0])
    return f"{need.where}: no alternative can hold ({'; '.join(reasons)})"


_LABELS = {"sku": "sku", "category": "category", "coupon": "coupon", "tier": "tier", "event_type": "event type"}


def _describe(need: Names) -> str:
    label = _LABELS[need.kind]
    if len(need.values) == 1:
        return f"{label} {need.values[0]} never seen"
    shown = ", ".join(need.values[:5]) + (f" and {len(need.values) - 5} more" if len(need.values) > 5 else "")
    return f"none of the {len(need.values)} {label} values seen ({shown})"


def _normal(kind: str, value: str) -> str:
    # Rules match coupons in any case (facts.py upper-cases the order's).
    return value.upper() if kind == "coupon" else value


def _conditions(when: Mapping[str, Any], where: str) -> list[Need]:
    found: list[Need] = []
    order, cart, customer = when.get("order", {}), when.get("cart", {}), when.get("customer", {})
    if "coupon" in order:
        found.append(Names("coupon", _texts(order["coupon"]), f"{where}.order.coupon"))
    if "tier" in customer:
        found.append(Names("tier", _texts(customer["tier"]), f"{where}.customer.tier"))
    for key in ("any_line", "all_lines"):
        if key in cart:
            found.extend(_line_filter(cart[key], f"{where}.cart.{key}"))
    total = cart.get("sum")
    if total and total.get("lines") and not _holds_for_nothing(total):
        found.extend(_line_filter(total["lines"], f"{where}.cart.sum.lines"))
    for number, branch in enumerate(when.get("all", ())):
        found.extend(_conditions(branch, f"{where}.all[{number}]"))
    alternatives = when.get("any", ())
    if alternatives:
        branches = tuple(tuple(_conditions(branch, f"{where}.any[{n}]")) for n, branch in enumerate(alternatives))
        # A branch that needs nothing can always hold: then the `any` needs nothing.
        if all(branches):
            found.append(AnyOf(branches, f"{where}.any"))
    return found


def _line_filter(spec: Mapping[str, Any], where: str) -> list[Need]:
    return [Names(kind, _texts(spec[kind]), f"{where}.{kind}") for kind in ("sku", "category") if kind in spec]


_ZERO = Decimal(0)


def _holds_for_nothing(total: Mapping[str, Any]) -> bool:
    """Whether the sum's comparisons hold when no line matches (value and quantity 0)."""
    for key in ("value", "quantity"):
        spec = total.get(key)
        if spec is None:
            continue
        comparisons = spec if isinstance(spec, dict) else {"eq": spec}
        if not all(COMPARISONS[op](_ZERO, Decimal(str(limit))) for op, limit in comparisons.items()):
            return False
    return True


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in as_list(value))
