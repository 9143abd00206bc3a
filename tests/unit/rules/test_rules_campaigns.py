"""Campaigns, program caps, limits per an event attribute and budgets in money (issue 13):
how they read, how they are refused, and how an evaluation applies them."""

from datetime import UTC, datetime
from decimal import Decimal

from rules_testkit import NOW, customer, errors_of, order, points_by_rule, program_of

from domain.program import EventFacts, UsageSnapshot

CAMPAIGNS = """
campaigns:
  - id: spring
    limit: {per_customer: 2, period: month}
  - id: launch
    limit: {total: 100}
    budget: {points: 50}
  - id: markdown
    budget: {amount: "10.00"}
rules:
  - {id: s1, campaign: spring, then: {points: {fixed: 5}}}
  - {id: s2, campaign: spring, then: {points: {fixed: 6}}}
  - {id: s3, campaign: spring, then: {points: {fixed: 7}}}
  - {id: l1, campaign: launch, when: {order: {coupon: LAUNCH}}, then: {points: {fixed: 30}}}
  - {id: l2, campaign: launch, when: {order: {coupon: LAUNCH}}, then: {points: {fixed: 30}}}
  - {id: m1, campaign: markdown, when: {order: {coupon: MARK}}, then: {discount: {amount: 6}}}
  - {id: m2, campaign: markdown, when: {order: {coupon: MARK}}, then: {discount: {percent: 50}}}
  - id: own
    limit: {per_customer: 1, total: 3}
    budget: {amount: 5}
    campaign: markdown
    when: {order: {coupon: OWN}}
    then: {discount: {amount: 4}}
  - id: review
    on: review.submitted
    limit: {per_customer: 1, per: event.order_id}
    then: {points: {fixed: 15}}
"""


def _trace(evaluation) -> dict[str, str]:
    return {t.rule_id: t.reason for t in evaluation.trace}


def test_the_rules_of_a_campaign_share_its_per_customer_limit_in_application_order():
    program = program_of(CAMPAIGNS)
    assert points_by_rule(program.evaluate_order(customer(), order(("A", 10)), NOW)) == {"s1": 5, "s2": 6}
    used = UsageSnapshot(customer_uses={"campaign:spring": 1})
    evaluation = program.evaluate_order(customer(), order(("A", 10)), NOW, used)
    assert points_by_rule(evaluation) == {"s1": 5}
    assert _trace(evaluation)["s2"] == "limit reached: used 2 of 2 per month of campaign 'spring'"


def test_a_campaign_budget_in_points_is_shared_and_cut_to_what_is_left():
    program = program_of(CAMPAIGNS)
    cart = order(("A", 10), coupon_codes=frozenset({"launch"}))
    evaluation = program.evaluate_order(customer(), cart, NOW)
    assert {r: p for r, p in points_by_rule(evaluation).items() if r.startswith("l")} == {"l1": 30, "l2": 20}
    assert "capped: 20 points left in the budget of campaign 'launch'" in _trace(evaluation)["l2"]


def test_a_program_cap_stops_the_rule_once_the_whole_program_used_it_up():
    program = program_of(CAMPAIGNS)
    cart = order(("A", 10), coupon_codes=frozenset({"launch"}))
    used = UsageSnapshot(program_uses={"campaign:launch": 99})
    evaluation = program.evaluate_order(None, cart, NOW, used)  # caps hold for guests too
    assert [r for r in points_by_rule(evaluation) if r.startswith("l")] == ["l1"]
    assert _trace(evaluation)["l2"] == "program limit reached: 100 of 100 uses of campaign 'launch'"


def test_a_budget_in_money_cuts_the_discount_and_then_stops_it():
    program = program_of(CAMPAIGNS)
    cart = order(("A", 40), coupon_codes=frozenset({"mark"}))
    evaluation = program.evaluate_order(customer(), cart, NOW)
    assert [(d.rule_id, d.amount) for d in evaluation.discounts] == [("m1", Decimal("6.00")), ("m2", Decimal("4.00"))]
    assert _trace(evaluation)["m2"] == "4.00 off (capped: 4.00 left in the budget of campaign 'markdown')"
    spent = UsageSnapshot(program_amounts={"campaign:markdown": Decimal("10.00")})
    evaluation = program.evaluate_order(customer(), cart, NOW, spent)
    assert evaluation.discounts == ()
    assert _trace(evaluation)["m1"] == "budget exhausted: 10.00 already given in discounts of campaign 'markdown'"


def test_a_rule_answers_to_its_own_limits_and_to_its_campaigns():
    program = program_of(CAMPAIGNS)
    cart = order(("A", 40), coupon_codes=frozenset({"own"}))
    assert [d.amount for d in program.evaluate_order(customer(), cart, NOW).discounts] == [Decimal("4.00")]
    for usage, reason in [
        (UsageSnapshot(customer_uses={"own": 1}), "limit reached: used 1 of 1"),
        (UsageSnapshot(program_uses={"own": 3}), "program limit reached: 3 of 3 uses"),
        (UsageSnapshot(program_amounts={"own": Decimal(5)}), "budget exhausted: 5 already given in discounts"),
    ]:
        evaluation = program.evaluate_order(customer(), cart, NOW, usage)
        assert (evaluation.discounts, _trace(evaluation)["own"]) == ((), reason)
    left = UsageSnapshot(program_amounts={"own": Decimal("2.5"), "campaign:markdown": Decimal("9")})
    assert [d.amount for d in program.evaluate_order(customer(), cart, NOW, left).discounts] == [Decimal("1.00")]


def test_a_limit_per_event_attribute_counts_under_the_events_value():
    program = program_of(CAMPAIGNS)
    event = EventFacts("review.submitted", {"order_id": 1234})
    assert program.scopes(event) == {"review": "1234"}
    assert points_by_rule(program.evaluate_event(customer(), event, NOW)) == {"review": 15}
    used = program.evaluate_event(customer(), event, NOW, UsageSnapshot(customer_uses={"review": 1}))
    assert _trace(used)["review"] == "limit reached: used 1 of 1 for event.order_id 1234"
    bare = program.evaluate_event(customer(), EventFacts("review.submitted", {}), NOW)
    assert _trace(bare)["review"] == "limit per event.order_id: the event has no order_id"


def test_counters_expose_their_keys_and_the_start_of_their_periods():
    limited = program_of(CAMPAIGNS).limited_rules(NOW)
    assert limited["campaign:spring"] == datetime(2025, 3, 1, tzinfo=UTC)
    assert {key: limited[key] for key in ("campaign:launch", "campaign:markdown", "own", "review")} == dict.fromkeys(
        ("campaign:launch", "campaign:markdown", "own", "review")
    )
    assert "s1" not in limited  # a campaign's rules count under its key


def test_campaign_and_limit_mistakes_are_errors_at_their_lines():
    errors = errors_of(
        **{
            "c.yaml": """
        campaigns:
          - {id: c, limit: {period: month, total: 3}}
          - {id: c}
        rules:
          - {id: a, campaign: nope, then: {points: {fixed: 1}}}
          - {id: b, budget: {amount: 10}, then: {points: {fixed: 1}}}
          - {id: d, limit: {per_customer: 1, per: event.order_id}, then: {points: {fixed: 1}}}
          - {id: e, limit: {total: 0}, then: {points: {fixed: 1}}}
          - {id: f, budget: {points: 5, amount: 5}, then: {points: {fixed: 1}}}
    """
        }
    )
    assert errors == [
        "c.yaml:3:21: campaign 'c': period qualifies per_customer, which is missing",
        "c.yaml:4:10: campaign 'c' is defined twice",
        "c.yaml:6:23: rule 'a': unknown campaign 'nope' (campaigns: c)",
        "c.yaml:7:30: rule 'b': a budget in money counts discounts, and this rule gives points:"
        " use budget: {points: N}",
        "c.yaml:8:43: rule 'd': a limit per event.order_id needs an event rule (on: <event type>);"
        " an order rule applies at most once per order anyway",
        "c.yaml:9:28: rule 'e', limit.total: 0 is less than the minimum of 1",
        "c.yaml:10:21: rule 'f', budget: {'points': 5, 'amount': 5} has too many properties",
    ]
