"""Speed shortcuts of an evaluation, each compared with the general path it replaces."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rules_testkit import NOW, customer, order, program_of

from app.limits import nothing_used
from domain.program import LineFacts, UsageSnapshot
from rules.lines import picker, predicate
from rules.matcher import _json

SKUS, CATEGORIES, TAGS = ["A", "B", "C"], ["toys", "feeding"], ["new", "sale"]

lines = st.lists(
    st.builds(
        LineFacts,
        sku=st.sampled_from(SKUS),
        quantity=st.integers(1, 3),
        unit_price=st.integers(0, 4000).map(lambda cents: Decimal(cents) / 100),
        category=st.one_of(st.none(), st.sampled_from(CATEGORIES)),
        tags=st.frozensets(st.sampled_from(TAGS)),
    ),
    max_size=6,
).map(tuple)


def one_or_list(values: list[str]) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(values), st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))


line_filter = st.one_of(
    st.none(),
    st.fixed_dictionaries({"sku": one_or_list(SKUS)}),
    st.fixed_dictionaries({"category": one_or_list(CATEGORIES)}),
    st.fixed_dictionaries({"tag": one_or_list(TAGS)}),
    st.fixed_dictionaries(
        {}, optional={"sku": one_or_list(SKUS), "tag": one_or_list(TAGS), "min_quantity": st.integers(1, 3)}
    ),
)


@given(line_filter, lines)
def test_a_filters_picker_picks_the_lines_its_predicate_matches(spec, cart):
    test = predicate(spec)
    assert picker(spec)(cart) == [line for line in cart if test(line)]


fact_values = st.one_of(
    st.lists(st.one_of(st.text(max_size=4), st.integers(-5, 5)), max_size=4),
    st.lists(st.one_of(st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.none()), max_size=3),
    st.text(max_size=4),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(fact_values)
def test_a_fact_value_is_encoded_as_json_dumps_encodes_it(value):
    assert _json(value) == json.dumps(value, separators=(",", ":"))


LIMITED = """
rules:
  - {id: monthly, limit: {per_customer: 2, period: month}, then: {points: {fixed: 10}}}
  - {id: daily, limit: {per_customer: 1, period: day}, then: {points: {fixed: 3}}}
  - {id: once, when: {order: {coupon: WELCOME}}, limit: {per_customer: 1}, then: {discount: {amount: 5}}}
  - {id: campaign, budget: {points: 1000}, then: {points: {per_unit: 1}}}
"""


def test_a_snapshot_where_nothing_is_used_evaluates_as_no_snapshot():
    """app.limits skips the second evaluation when nothing_used(usage): that evaluation
    must be the one made without a snapshot."""
    program = program_of(LIMITED)
    cart = order(("A", 20), coupon_codes=frozenset({"WELCOME"}))
    zeros = UsageSnapshot(customer_uses=dict.fromkeys(["monthly", "daily", "once"], 0), program_points={"campaign": 0})
    assert nothing_used(zeros) and nothing_used(UsageSnapshot())
    assert program.evaluate_order(customer(), cart, NOW, zeros) == program.evaluate_order(customer(), cart, NOW)
    assert not nothing_used(UsageSnapshot(customer_uses={"daily": 1}))
    assert not nothing_used(UsageSnapshot(program_points={"campaign": 5}))


def test_limited_rules_are_rebuilt_when_a_period_starts_and_shared_read_only():
    program = program_of(LIMITED)
    first = program.limited_rules(NOW)
    with pytest.raises(TypeError):
        first["monthly"] = None  # type: ignore[index]  # shared by every caller: no one changes it
    assert program.limited_rules(NOW - timedelta(days=1))["daily"] == datetime(2025, 3, 3, tzinfo=UTC)
    assert program.limited_rules(NOW)["monthly"] == datetime(2025, 3, 1, tzinfo=UTC)
    assert program.limited_rules(NOW)["daily"] == datetime(2025, 3, 4, tzinfo=UTC)
    assert program.limited_rules(NOW + timedelta(days=1))["daily"] == datetime(2025, 3, 5, tzinfo=UTC)
    assert program.limited_rules(NOW)["once"] is None and program.limited_rules(NOW)["campaign"] is None
