from decimal import Decimal

from rules_testkit import NOW, TIERS, customer, order, points_by_rule, program_of

from domain.program import CustomerFacts, EventFacts, UsageSnapshot

EARN = """
rules:
  - id: base-earn
    then: {points: {per_unit: 1}}
"""


def test_a_gold_member_earns_150_on_100_euros_with_the_multiplier_as_its_own_award():
    evaluation = program_of(TIERS, EARN).evaluate_order(customer("Gold"), order(("A", "100.00")), NOW)
    assert points_by_rule(evaluation) == {"base-earn": 100, "tier-multiplier": 50}
    assert evaluation.points == 150


def test_every_award_names_the_rules_version_that_produced_it():
    program = program_of(TIERS, EARN)
    evaluation = program.evaluate_order(customer("Gold"), order(("A", "10")), NOW)
    assert evaluation.rules_version == program.version and len(program.version) == 16


def test_points_round_down_per_award():
    evaluation = program_of(TIERS, EARN).evaluate_order(customer("Silver"), order(("A", "10.99")), NOW)
    assert points_by_rule(evaluation) == {"base-earn": 10, "tier-multiplier": 2}


def test_a_bronze_member_gets_no_multiplier_award_and_the_trace_says_why():
    evaluation = program_of(TIERS, EARN).evaluate_order(customer("Bronze"), order(("A", "10")), NOW)
    assert points_by_rule(evaluation) == {"base-earn": 10}
    trace = {t.rule_id: t for t in evaluation.trace}
    assert not trace["tier-multiplier"].applied and "0 points" in trace["tier-multiplier"].reason


def test_an_anonymous_cart_earns_base_points_but_no_customer_rule():
    evaluation = program_of(TIERS, EARN).evaluate_order(None, order(("A", "20")), NOW)
    assert points_by_rule(evaluation) == {"base-earn": 20}
    trace = {t.rule_id: t for t in evaluation.trace}
    assert trace["tier-multiplier"].reason == "needs a customer (anonymous cart)"


def test_the_same_files_give_the_same_version_and_an_edit_a_new_one():
    assert program_of(TIERS, EARN).version == program_of(TIERS, EARN).version
    assert program_of(TIERS, EARN).version != program_of(TIERS, EARN + "\n# edited\n").version


def test_tier_for_picks_the_highest_tier_reached():
    program = program_of(TIERS, EARN)
    assert [t.name for t in program.tiers] == ["Bronze", "Silver", "Gold"]
    assert program.tier_for(999, Decimal(0)).name == "Bronze"
    assert program.tier_for(1000, Decimal(0)).name == "Silver"
    assert program.tier_for(10**6, Decimal(0)).name == "Gold"


def test_tiers_can_qualify_by_spend():
    program = program_of("""
        tier_qualification: {basis: spend, period: calendar_year}
        tiers:
          - {name: Member, threshold: 0}
          - {name: Star, threshold: 500}
        rules:
          - {id: base, then: {points: {per_unit: 1}}}
    """)
    assert program.tier_for(0, Decimal("499.99")).name == "Member"
    star = program.tier_for(0, Decimal("500"))
    assert star.name == "Star" and star.basis == "spend" and star.period == "calendar_year"


EVENTS = """
rules:
  - id: review
    on: review.published
    when: {event: {rating: {gte: 4}, verified: true}}
    then: {points: {fixed: 50}}
  - id: follow
    on: social.followed
    when: {event: {network: [instagram, tiktok]}}
    then: {points: {fixed: 25, pending_days: 0, expires_in_days: 30}}
  - id: gold-birthday
    on: customer.birthday
    when: {customer: {tier: Gold}}
    then: {points: {fixed: 1000}}
  - id: custom
    on: custom.quiz_won
    then: {points: {fixed: 5}}
"""


def test_an_event_rule_awards_its_points_when_attributes_match():
    program = program_of(TIERS, EVENTS)
    good = EventFacts("review.published", {"rating": 5, "verified": True})
    bad = EventFacts("review.published", {"rating": 3, "verified": True})
    assert points_by_rule(program.evaluate_event(customer(), good, NOW)) == {"review": 50}
    assert program.evaluate_event(customer(), bad, NOW).awards == ()


def test_an_event_award_carries_its_pending_and_expiry_days():
    evaluation = program_of(TIERS, EVENTS).evaluate_event(
        customer(), EventFacts("social.followed", {"network": "tiktok"}), NOW
    )
    (award,) = evaluation.awards
    assert (award.points, award.pending_days, award.expires_in_days) == (25, 0, 30)


def test_event_rules_only_hear_their_own_event_type():
    program = program_of(TIERS, EVENTS)
    assert points_by_rule(program.evaluate_event(customer("Gold"), EventFacts("customer.birthday"), NOW)) == {
        "gold-birthday": 1000
    }
    assert points_by_rule(program.evaluate_event(customer(), EventFacts("custom.quiz_won"), NOW)) == {"custom": 5}
    assert program.evaluate_event(customer(), EventFacts("custom.other"), NOW).awards == ()


def test_customer_conditions_reach_tags_spend_order_count_and_last_order():
    from datetime import timedelta

    program = program_of(
        TIERS,
        """
        rules:
          - id: lapsed-vip
            when:
              customer:
                tag: vip
                no_tag: blocked
                lifetime_spend: {gte: 100.5}
                order_count: {gt: 1}
                days_since_last_order: {gte: 90}
            then: {points: {fixed: 10}}
    """,
    )
    base = dict(
        tags=frozenset({"vip"}), lifetime_spend=Decimal("100.50"), order_count=2, last_order_at=NOW - timedelta(days=90)
    )
    assert points_by_rule(program.evaluate_order(CustomerFacts("c", **base), order(("A", 1)), NOW)) == {
        "lapsed-vip": 10
    }
    for change in (
        {"tags": frozenset({"vip", "blocked"})},
        {"lifetime_spend": Decimal("100.49")},
        {"order_count": 1},
        {"last_order_at": NOW - timedelta(days=89)},
        {"last_order_at": None},
    ):
        facts = CustomerFacts("c", **{**base, **change})
        assert program.evaluate_order(facts, order(("A", 1)), NOW).awards == (), change


def test_usage_is_optional_and_empty_usage_changes_nothing():
    program = program_of(TIERS, EARN)
    assert program.evaluate_order(customer(), order(("A", 5)), NOW, UsageSnapshot()).points == 5
