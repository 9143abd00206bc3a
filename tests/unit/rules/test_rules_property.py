"""Generated programs and carts: the rules durable-rules matches are exactly the rules whose
conditions hold by a plain-Python reading of the same program (reference.py).

The programs hold the shapes the index files rules under (rules/triggers.py): cart keys,
coupons, tiers and other values, spend and other number bands with every comparison, active
windows and `time.between`, and rules sharing an earlier rule's conditions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from domain.program import CustomerFacts, LineFacts, OrderFacts
from rules import RuleFileErrors, load_program_from_sources
from rules.parse import parse_when
from tests.unit.rules import reference

SKUS, CATEGORIES, TAGS, TIERS = ["A", "B", "C"], ["toys", "feeding"], ["new", "sale"], ["Bronze", "Gold"]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]


def one_or_list(values: list) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(values), st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))


def compare(low: int, high: int, step: float = 1) -> st.SearchStrategy:
    number = st.integers(low, high).map(lambda n: n * step if step != 1 else n)
    ops = st.dictionaries(st.sampled_from(["gte", "gt", "lte", "lt", "eq", "ne"]), number, min_size=1, max_size=2)
    return st.one_of(number, ops)


line_filter = st.fixed_dictionaries(
    {},
    optional={
        "sku": one_or_list(SKUS),
        "category": one_or_list(CATEGORIES),
        "tag": one_or_list(TAGS),
        "min_quantity": st.integers(1, 3),
        "unit_price": compare(0, 60, 2.5),
        "total": compare(0, 40, 5),
    },
).filter(bool)

cart = st.fixed_dictionaries(
    {},
    optional={
        "any_line": line_filter,
        "all_lines": line_filter,
        "no_line": line_filter,
        "sum": st.fixed_dictionaries(
            {"value": compare(0, 40, 5)}, optional={"lines": line_filter, "quantity": compare(0, 6)}
        ),
    },
).filter(bool)

customer_conditions = st.fixed_dictionaries(
    {},
    optional={
        "tier": one_or_list(TIERS),
        "tag": one_or_list(TAGS),
        "no_tag": one_or_list(TAGS),
        "lifetime_spend": compare(0, 20, 50),
        "order_count": compare(0, 3),
        "days_since_last_order": compare(0, 40, 10),
        "birthday_month": st.booleans(),
        "attributes": st.fixed_dictionaries(
            {},
            optional={
                "new_parent": st.booleans(),
                "segment": one_or_list(["budget", "premium"]),
                "children": compare(0, 3),
                "due_date": st.one_of(
                    st.fixed_dictionaries({"month": one_or_list(list(range(1, 13)))}),
                    st.fixed_dictionaries({"gte": st.sampled_from(["2026-01-15", "2026-03-01", "2026-06-30"])}),
                ),
            },
        ).filter(bool),
    },
).filter(bool)

# Dates around the evaluations (NOW to NOW + 62 days), bare (a whole day) or with a time.
WHEN = ["2026-02-20", "2026-03-01", "2026-03-01T12:00:00Z", "2026-03-15", "2026-04-01T08:30:00+02:00", "2026-05-10"]


@st.composite
def window(draw: st.DrawFn) -> dict:
    """`{from, until}` (either or both), in order: the file format refuses one that ends first."""
    ends = sorted(
        draw(st.lists(st.sampled_from(WHEN), min_size=2, max_size=2, unique=True)), key=lambda w: parse_when(w)[0]
    )
    chosen = draw(st.sampled_from([("from",), ("until",), ("from", "until")]))
    return {key: ends[0] if key == "from" else ends[1] for key in chosen}


time_conditions = st.fixed_dictionaries(
    {},
    optional={
        "weekday": one_or_list(["mon", "tue", "sat", "sun"]),
        "hour": compare(0, 23),
        "day": compare(1, 31),
        "week_of_month": one_or_list([1, 2, 5, "last"]),
        "between": window(),
    },
).filter(bool)

order_conditions = st.fixed_dictionaries(
    {},
    optional={
        "subtotal": compare(0, 30, 5),
        "item_count": compare(0, 6),
        "currency": one_or_list(["EUR", "USD"]),
        "coupon": one_or_list(["SPRING", "vip10"]),
    },
).filter(bool)

sections = st.fixed_dictionaries(
    {},
    optional={"order": order_conditions, "cart": cart, "customer": customer_conditions, "time": time_conditions},
).filter(bool)


def _nested(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.builds(
            lambda base, subs: {**base, "any": subs}, sections | st.just({}), st.lists(children, min_size=1, max_size=2)
        ),
        st.builds(
            lambda base, subs: {**base, "all": subs}, sections | st.just({}), st.lists(children, min_size=1, max_size=2)
        ),
        st.builds(lambda base, sub: {**base, "not": sub}, sections | st.just({}), children),
    )


level3 = sections
level2 = st.one_of(sections, _nested(level3))
level1 = st.one_of(sections, _nested(level2))
when = st.one_of(sections, _nested(level1))

line = st.builds(
    LineFacts,
    sku=st.sampled_from(SKUS),
    quantity=st.integers(1, 3),
    unit_price=st.integers(0, 50).map(lambda n: Decimal(n) / 2 * 5),
    category=st.sampled_from([*CATEGORIES, None]),
    tags=st.frozensets(st.sampled_from(TAGS), max_size=2),
)
order = st.builds(
    OrderFacts,
    currency=st.sampled_from(["EUR", "USD"]),
    lines=st.lists(line, max_size=4).map(tuple),
    coupon_codes=st.frozensets(st.sampled_from(["spring", "VIP10", "OTHER"]), max_size=2),
)
attributes = st.fixed_dictionaries(
    {},
    optional={
        "new_parent": st.booleans(),
        "segment": st.sampled_from(["budget", "premium"]),
        "children": st.integers(0, 3),
        "due_date": st.dates(date(2025, 12, 1), date(2026, 8, 1)).map(date.isoformat),
    },
)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
customer = st.one_of(
    st.none(),
    st.builds(
        CustomerFacts,
        external_id=st.sampled_from(["c1", "c2", "c3", "c4"]),
        tier=st.sampled_from([*TIERS, None]),
        tags=st.frozensets(st.sampled_from(TAGS), max_size=2),
        lifetime_spend=st.integers(0, 1000).map(Decimal),
        order_count=st.integers(0, 3),
        last_order_at=st.one_of(st.none(), st.integers(0, 60).map(lambda d: NOW - timedelta(days=d))),
        birthday=st.one_of(st.none(), st.dates(date(1980, 1, 1), date(2000, 12, 31))),
        attributes=attributes,
    ),
)
moment = st.integers(0, 24 * 62).map(lambda hours: NOW + timedelta(hours=hours, minutes=30))

HEADER = {
    "tiers": [{"name": "Bronze", "threshold": 0}, {"name": "Gold", "threshold": 100}],
    "customer_attributes": {
        "new_parent": "boolean",
        "segment": {"one_of": ["budget", "premium"]},
        "children": "integer",
        "due_date": "date",
    },
    "experiments": [{"id": "split", "variants": {"a": 30, "b": 70}}],
}


@st.composite
def rule(draw: st.DrawFn, number: int) -> dict:
    item: dict = {"id": f"r{number}", "group": f"g{number}", "when": draw(when), "then": {"points": {"fixed": 1}}}
    if draw(st.booleans()) and draw(st.booleans()):
        item["experiment"] = {"id": "split", "variant": draw(st.sampled_from(["a", "b"]))}
    if draw(st.booleans()):
        item["active"] = draw(window())
    return item


@st.composite
def rules_of_a_program(draw: st.DrawFn) -> list[dict]:
    """Up to 8 rules; some repeat an earlier rule's conditions (shared by one durable-rules
    rule, rules/matcher.py) or its spend band, as campaigns written side by side do."""
    rules = [draw(rule(i)) for i in range(draw(st.integers(1, 8)))]
    for later in rules[1:]:
        if draw(st.integers(0, 3)) == 0:
            earlier = rules[draw(st.integers(0, rules.index(later) - 1))]
            later["when"] = json.loads(json.dumps(earlier["when"]))
            if "active" in earlier and draw(st.booleans()):
                later["active"] = dict(earlier["active"])
    return rules


# Each example compiles a program (~0.2 s on a shared machine), so: 60 examples, no example
# database in the repo, and no shrinking (it compiles hundreds more; minutes for one failure).
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(
    zone=st.sampled_from(ZONES),
    rules=rules_of_a_program(),
    cases=st.lists(st.tuples(customer, order, moment), min_size=1, max_size=4),
)
def test_durable_rules_matches_exactly_the_rules_whose_conditions_hold(zone, rules, cases):
    text = yaml.safe_dump({**HEADER, "program": {"time_zone": zone}, "rules": list(rules)}, sort_keys=False)
    try:
        program = load_program_from_sources({"program.yaml": text})
    except RuleFileErrors as exc:  # a rule with too many alternatives is refused, with that message
        assume(not all("alternatives once" in e.message for e in exc.errors))
        raise
    for who, cart, now in cases:
        evaluation = program.evaluate_order(who, cart, now)
        expected = {
            r.id for r in program.rules if reference.matches(r, who, cart, now, ZoneInfo(zone), program.settings)
        }
        assert set(evaluation.applied_rule_ids) == expected, (who, cart, now, rules)
