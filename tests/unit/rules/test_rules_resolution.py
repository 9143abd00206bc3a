from decimal import Decimal

from rules_testkit import NOW, TIERS, customer, order, points_by_rule, program_of

from domain.program import UsageSnapshot

BONUSES = """
rules:
  - id: low
    then: {points: {fixed: 10}}
  - id: high-exclusive
    priority: 10
    stacking: exclusive
    when: {order: {subtotal: {gte: 50}}}
    then: {points: {fixed: 100}}
  - id: other-group
    group: campaigns
    then: {points: {fixed: 1}}
"""


def test_a_higher_priority_exclusive_rule_shuts_out_the_rest_of_its_group():
    evaluation = program_of(BONUSES).evaluate_order(customer(), order(("A", 60)), NOW)
    assert points_by_rule(evaluation) == {"high-exclusive": 100, "other-group": 1}
    trace = {t.rule_id: t for t in evaluation.trace}
    assert trace["low"].reason == "excluded by exclusive rule 'high-exclusive' (priority 10)"


def test_an_exclusive_rule_behind_a_higher_priority_rule_does_not_apply():
    program = program_of("""
        rules:
          - {id: first, priority: 5, then: {points: {fixed: 10}}}
          - {id: lone, stacking: exclusive, then: {points: {fixed: 99}}}
    """)
    evaluation = program.evaluate_order(customer(), order(("A", 1)), NOW)
    assert points_by_rule(evaluation) == {"first": 10}
    assert "applies before it" in {t.rule_id: t for t in evaluation.trace}["lone"].reason


def test_equal_priorities_resolve_by_position_in_the_folder_the_same_way_every_time():
    program = program_of(
        **{
            "a.yaml": "rules:\n  - {id: a-rule, stacking: exclusive, then: {points: {fixed: 1}}}\n",
            "b.yaml": "rules:\n  - {id: b-rule, stacking: exclusive, then: {points: {fixed: 2}}}\n",
        }
    )
    results = {tuple(points_by_rule(program.evaluate_order(customer(), order(("A", 1)), NOW))) for _ in range(20)}
    assert results == {("a-rule",)}


DISCOUNTS = """
program: {max_discount_per_order: {percent: 50, amount: 30}}
rules:
  - {id: ten-off, then: {discount: {amount: 10}}}
  - {id: twenty-off, then: {discount: {amount: 20}}}
  - {id: quarter, then: {discount: {percent: 25, max: 100}}}
"""


def test_stacked_discounts_respect_the_per_order_cap():
    evaluation = program_of(DISCOUNTS).evaluate_order(customer(), order(("A", 200)), NOW)
    assert [(d.rule_id, d.amount) for d in evaluation.discounts] == [("ten-off", 10), ("twenty-off", 20)]
    assert "cap" in {t.rule_id: t for t in evaluation.trace}["quarter"].reason


def test_stacked_discounts_never_take_an_order_below_zero():
    program = program_of(
        "rules:\n  - {id: a, then: {discount: {amount: 10}}}\n  - {id: b, then: {discount: {amount: 10}}}\n"
    )
    evaluation = program.evaluate_order(customer(), order(("A", "12.50")), NOW)
    assert [(d.rule_id, d.amount) for d in evaluation.discounts] == [("a", 10), ("b", Decimal("2.50"))]
    for subtotal in ("0", "0.01", "7", "19.99", "20", "1000"):
        total = sum(d.amount for d in program.evaluate_order(customer(), order(("A", subtotal)), NOW).discounts)
        assert 0 <= total <= Decimal(subtotal)


def test_the_percent_cap_counts_on_the_subtotal():
    evaluation = program_of(DISCOUNTS).evaluate_order(customer(), order(("A", 30)), NOW)
    assert sum(d.amount for d in evaluation.discounts) == Decimal(15)


LIMITED = """
rules:
  - id: monthly
    limit: {per_customer: 2, period: month}
    then: {points: {fixed: 10}}
  - id: coupon-rule
    when: {order: {coupon: WELCOME}}
    limit: {per_customer: 1}
    then: {discount: {amount: 5}}
  - id: campaign
    budget: {points: 1000}
    then: {points: {per_unit: 1}}
"""


def test_a_per_customer_limit_stops_the_rule_once_used_up():
    program = program_of(LIMITED)
    used = UsageSnapshot(customer_uses={"monthly": 2})
    assert "monthly" in points_by_rule(program.evaluate_order(customer(), order(("A", 1)), NOW))
    evaluation = program.evaluate_order(customer(), order(("A", 1)), NOW, used)
    assert "monthly" not in points_by_rule(evaluation)
    assert {t.rule_id: t for t in evaluation.trace}["monthly"].reason == "limit reached: used 2 of 2 per month"


def test_a_limit_holds_alike_for_a_rule_behind_a_coupon():
    program = program_of(LIMITED)
    cart = order(("A", 20), coupon_codes=frozenset({"welcome"}))
    assert [d.rule_id for d in program.evaluate_order(customer(), cart, NOW).discounts] == ["coupon-rule"]
    used = UsageSnapshot(customer_uses={"coupon-rule": 1})
    assert program.evaluate_order(customer(), cart, NOW, used).discounts == ()


def test_a_budget_caps_the_award_at_what_is_left_and_then_stops_it():
    program = program_of(LIMITED)
    cart = order(("A", 300))
    assert (
        points_by_rule(program.evaluate_order(customer(), cart, NOW, UsageSnapshot(program_points={"campaign": 900})))[
            "campaign"
        ]
        == 100
    )
    assert "campaign" not in points_by_rule(
        program.evaluate_order(customer(), cart, NOW, UsageSnapshot(program_points={"campaign": 1000}))
    )


def test_limited_rules_expose_the_start_of_their_current_period():
    from datetime import UTC, datetime

    periods = program_of(LIMITED).limited_rules(NOW)
    assert periods == {"monthly": datetime(2025, 3, 1, tzinfo=UTC), "coupon-rule": None, "campaign": None}


def test_weekly_and_daily_periods_start_on_monday_and_at_midnight_utc():
    from datetime import UTC, datetime

    program = program_of("""
        rules:
          - {id: w, limit: {per_customer: 1, period: week}, then: {points: {fixed: 1}}}
          - {id: d, limit: {per_customer: 1, period: day}, then: {points: {fixed: 1}}}
          - {id: y, limit: {per_customer: 1, period: year}, then: {points: {fixed: 1}}}
    """)
    assert program.limited_rules(NOW) == {
        "w": datetime(2025, 3, 3, tzinfo=UTC),
        "d": datetime(2025, 3, 4, tzinfo=UTC),
        "y": datetime(2025, 1, 1, tzinfo=UTC),
    }


def test_free_shipping_takes_the_lowest_threshold_and_says_what_remains():
    program = program_of(
        TIERS,
        """
        rules:
          - id: fr
            when: {order: {country: [FR, BE]}}
            then: {free_shipping: {threshold: 35}}
    """,
    )
    fs = program.evaluate_order(customer("Silver"), order(("A", 30), country="FR"), NOW).free_shipping
    assert (fs.eligible, fs.remaining, fs.threshold, fs.rule_id) == (False, 5, 35, "fr")
    fs = program.evaluate_order(customer("Silver"), order(("A", 30), country="DE"), NOW).free_shipping
    assert (fs.eligible, fs.remaining, fs.threshold, fs.rule_id) == (False, 10, 40, "tier:Silver")
    assert program.evaluate_order(customer("Bronze"), order(("A", 30), country="DE"), NOW).free_shipping is None


def test_an_active_window_and_time_conditions_decide_by_the_evaluation_time():
    from datetime import UTC, datetime

    program = program_of("""
        rules:
          - id: june
            active: {from: 2025-06-01, until: 2025-06-30}
            then: {points: {fixed: 5}}
          - id: weekend-mornings
            when: {time: {weekday: [sat, sun], hour: {lt: 12}, month: 7}}
            then: {points: {fixed: 7}}
    """)

    def at(*when):
        return points_by_rule(program.evaluate_order(customer(), order(("A", 1)), datetime(*when, tzinfo=UTC)))

    assert at(2025, 5, 31, 23, 59) == {}
    assert at(2025, 6, 1, 0, 0) == {"june": 5}
    assert at(2025, 6, 30, 23, 59) == {"june": 5}
    assert at(2025, 7, 1, 0, 0) == {}
    assert at(2025, 7, 5, 11, 0) == {"weekend-mornings": 7}
    assert at(2025, 7, 5, 12, 0) == {}
