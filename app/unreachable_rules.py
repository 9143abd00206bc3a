"""Rules that can never fire (`loyalty rules check --against-db`, issue 13): those that need
a sku, category, coupon, tier or event type that the recorded data of the last days never
showed. One aggregate statement per kind asks which of the names the rules use were seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from persistence.unit_of_work import UnitOfWork
from rules import Program
from rules.model import RuleSpec
from rules.reach import named, unmet

DEFAULT_DAYS = 90


@dataclass(frozen=True)
class Unreachable:
    rule: RuleSpec
    reasons: tuple[str, ...]
    """One per unmet need: where the rule names it, and what was never seen."""


async def unreachable_rules(uow: UnitOfWork, program: Program, days: int, now: datetime) -> list[Unreachable]:
    """The program's rules that need something not seen since `days` before `now`, in folder order."""
    since = now - timedelta(days=days)
    names = named(program.rules)
    async with uow.reading() as session:
        history = session.history
        seen = {
            "sku": await history.seen_skus(since, names["sku"]),
            "category": await history.seen_categories(since, names["category"]),
            "coupon": await history.seen_coupons(since, names["coupon"]),
            "tier": await history.seen_tiers(since, names["tier"]),
            "event_type": await history.seen_event_types(since, names["event_type"]),
        }
    found = []
    for rule in program.rules:
        reasons = unmet(rule, seen)
        if reasons:
            found.append(Unreachable(rule, tuple(reasons)))
    return found
