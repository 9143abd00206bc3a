"""Limits, program caps and budgets while an evaluation is resolved.

What is left of a counter is what the usage snapshot says was used before, less what this
evaluation already took: two rules of one campaign that both match draw on its limit and
its budget together, in application order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from domain.program import CustomerFacts, EventFacts, UsageSnapshot
from rules.campaigns import spends
from rules.model import CAMPAIGN_PREFIX, Counter, RuleSpec

_CENT = Decimal("0.01")
"""Discounts are whole cents (rules/resolve.py)."""


@dataclass
class Taken:
    """What this evaluation has taken of each counter so far, by counter key."""

    uses: dict[str, int] = field(default_factory=dict)
    points: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)

    def use(self, rule: RuleSpec) -> None:
        for each in rule.counters:
            self.uses[each.key] = self.uses.get(each.key, 0) + 1


def scope_of(each: Counter, event: EventFacts | None) -> str | None:
    """The value a per-value limit counts under for this event (None: the event lacks it)."""
    if event is None or each.scope_attribute is None:
        return None
    value = event.attributes.get(each.scope_attribute)
    if value is None or isinstance(value, dict | list):
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def scopes(rules: Mapping[str, Counter], event: EventFacts | None) -> dict[str, str]:
    """Counter key -> this event's value, for the counters limited per an event attribute."""
    found = {}
    for key, each in rules.items():
        value = scope_of(each, event)
        if value is not None:
            found[key] = value
    return found


def _whose(each: Counter) -> str:
    return f" of campaign '{each.key.removeprefix(CAMPAIGN_PREFIX)}'" if each.key.startswith(CAMPAIGN_PREFIX) else ""


def held_back(
    rule: RuleSpec,
    customer: CustomerFacts | None,
    usage: UsageSnapshot,
    taken: Taken,
    values: Mapping[str, str],
) -> str | None:
    """Why the rule's limits, caps or budgets stop it now; None when they let it apply."""
    for each in rule.counters:
        key = each.key
        if each.per is not None and key not in values:
            return f"limit per {each.per}{_whose(each)}: the event has no {each.scope_attribute}"
        if each.per_customer is not None and customer is not None:
            used = usage.customer_uses.get(key, 0) + taken.uses.get(key, 0)
            if used >= each.per_customer:
                period = "" if each.period == "all_time" else f" per {each.period}"
                per = "" if each.per is None else f" for {each.per} {values[key]}"
                return f"limit reached: used {used} of {each.per_customer}{period}{per}{_whose(each)}"
        if each.total is not None:
            used = usage.program_uses.get(key, 0) + taken.uses.get(key, 0)
            if used >= each.total:
                return f"program limit reached: {used} of {each.total} uses{_whose(each)}"
        if not spends(rule.kind, each):
            continue
        if each.budget_points is not None:
            if usage.program_points.get(key, 0) + taken.points.get(key, 0) >= each.budget_points:
                return f"budget exhausted: {each.budget_points} points already awarded{_whose(each)}"
        elif each.budget_amount is not None:
            if usage.program_amounts.get(key, Decimal(0)) + taken.amounts.get(key, Decimal(0)) >= each.budget_amount:
                return f"budget exhausted: {each.budget_amount} already given in discounts{_whose(each)}"
    return None


def points_within(rule: RuleSpec, points: int, usage: UsageSnapshot, taken: Taken) -> tuple[int, str]:
    """The award cut to what its points budgets leave, and the note saying so; the points
    are taken from them."""
    note = ""
    for each in rule.counters:
        if each.budget_points is None:
            continue
        left = each.budget_points - usage.program_points.get(each.key, 0) - taken.points.get(each.key, 0)
        if points > left:
            points, note = max(left, 0), f" (capped: {left} points left in the budget{_whose(each)})"
    for each in rule.counters:
        if each.budget_points is not None:
            taken.points[each.key] = taken.points.get(each.key, 0) + points
    return points, note


def amount_left(rule: RuleSpec, usage: UsageSnapshot, taken: Taken) -> tuple[Decimal | None, str]:
    """The least any of the rule's money budgets leaves (None: no money budget), and whose."""
    least: Decimal | None = None
    whose = ""
    for each in rule.counters:
        if each.budget_amount is None or not spends(rule.kind, each):
            continue
        spent = usage.program_amounts.get(each.key, Decimal(0)) + taken.amounts.get(each.key, Decimal(0))
        left = max(each.budget_amount - spent, Decimal(0)).quantize(_CENT, ROUND_DOWN)
        if least is None or left < least:
            least, whose = left, _whose(each)
    return least, whose


def take_amount(rule: RuleSpec, amount: Decimal, taken: Taken) -> None:
    for each in rule.counters:
        if each.budget_amount is not None and spends(rule.kind, each):
            taken.amounts[each.key] = taken.amounts.get(each.key, Decimal(0)) + amount
