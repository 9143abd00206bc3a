"""Generated programs of limited rules and campaigns, and generated usage: what every rule
gives after per-customer limits, program caps and budgets in points and in money (its own
and its campaign's) is what a plain-Python reading of the rule files gives (reference.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.program import CustomerFacts, LineFacts, OrderFacts, UsageSnapshot
from rules import load_program_from_sources
from tests.unit.rules import reference

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CAMPAIGNS = ["c0", "c1"]
KEYS = [*(f"r{n}" for n in range(6)), *(f"campaign:{c}" for c in CAMPAIGNS)]

limit = st.fixed_dictionaries({}, optional={"per_customer": st.integers(1, 2), "total": st.integers(1, 3)})
points_budget = st.fixed_dictionaries({"points": st.integers(1, 60)})
amount_budget = st.fixed_dictionaries({"amount": st.integers(1, 30)})


@st.composite
def rule(draw: st.DrawFn, number: int) -> dict:
    is_points = draw(st.booleans())
    item: dict = {
        "id": f"r{number}",
        "group": f"g{number}",
        "priority": draw(st.integers(0, 2)),
        "then": {"points": {"fixed": draw(st.integers(1, 40))}}
        if is_points
        else {"discount": {"amount": draw(st.integers(1, 20))}},
    }
    if draw(st.booleans()):
        item["when"] = {"order": {"coupon": draw(st.sampled_from(["A", "B"]))}}
    own = draw(limit)
    if own:
        item["limit"] = own
    if draw(st.booleans()):
        item["budget"] = draw(points_budget if is_points else amount_budget)
    if draw(st.booleans()):
        item["campaign"] = draw(st.sampled_from(CAMPAIGNS))
    return item


campaign = st.fixed_dictionaries(
    {}, optional={"limit": limit.filter(bool), "budget": st.one_of(points_budget, amount_budget)}
)
usage = st.builds(
    UsageSnapshot,
    customer_uses=st.dictionaries(st.sampled_from(KEYS), st.integers(0, 2)),
    program_points=st.dictionaries(st.sampled_from(KEYS), st.integers(0, 60)),
    program_amounts=st.dictionaries(st.sampled_from(KEYS), st.integers(0, 3000).map(lambda c: Decimal(c) / 100)),
    program_uses=st.dictionaries(st.sampled_from(KEYS), st.integers(0, 3)),
)
ORDER = OrderFacts(currency="EUR", lines=(LineFacts("SKU", 1, Decimal(1000)),), coupon_codes=frozenset({"a"}))


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rules=st.integers(1, 6).flatmap(lambda n: st.tuples(*(rule(i) for i in range(n)))),
    campaigns=st.tuples(campaign, campaign),
    cases=st.lists(st.tuples(st.booleans(), usage), min_size=1, max_size=4),
)
def test_limits_caps_and_budgets_give_what_the_reference_gives(rules, campaigns, cases):
    named = {cid: {"id": cid, **body} for cid, body in zip(CAMPAIGNS, campaigns, strict=True)}
    text = yaml.safe_dump({"campaigns": list(named.values()), "rules": list(rules)}, sort_keys=False)
    program = load_program_from_sources({"program.yaml": text})
    for has_customer, used in cases:
        who = CustomerFacts("c1") if has_customer else None
        evaluation = program.evaluate_order(who, ORDER, NOW, used)
        got = {a.rule_id: Decimal(a.points) for a in evaluation.awards}
        got.update({d.rule_id: d.amount for d in evaluation.discounts})
        matched = [
            r["id"]
            for r in sorted(rules, key=lambda r: (-r["priority"], int(r["id"][1:])))
            if r.get("when", {}).get("order", {}).get("coupon", "A") == "A"
        ]
        assert got == reference.within_limits(list(rules), named, matched, has_customer, used), (rules, campaigns)
