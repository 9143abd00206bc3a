"""Points before or after discounts (`program.points.earn_on`): the subtotal by default,
what the customer pays after the order's discounts (coupons' included) with `paid`."""

from decimal import Decimal

from rules_testkit import NOW, customer, order, points_by_rule, program_of

from domain.program import RedeemedReward

RULES = """
rules:
  - {id: base, then: {points: {per_unit: 1}}}
  - {id: feeding, then: {points: {per_unit: 2, lines: {category: feeding}}}}
  - {id: double, then: {points: {multiply: 2}}}
  - {id: fifteen-off, when: {order: {coupon: SAVE}}, then: {discount: {percent: 15}}}
"""
PAID = "program: {points: {earn_on: paid}}\n" + RULES
CART = order(("CRIB", 60), ("BOTTLE", 40, {"category": "feeding"}), coupon_codes=frozenset({"save"}))


def test_by_default_points_count_the_subtotal_before_discounts():
    assert points_by_rule(program_of(RULES).evaluate_order(customer(), CART, NOW)) == {
        "base": 100,
        "feeding": 80,
        "double": 180,
    }


def test_earn_on_paid_counts_what_is_paid_after_discounts_shared_by_the_lines():
    evaluation = program_of(PAID).evaluate_order(customer(), CART, NOW)
    # 15.00 off 100.00: 85.00 paid; the feeding line's share is 40 x 0.85 = 34.00.
    assert points_by_rule(evaluation) == {"base": 85, "feeding": 68, "double": 153}
    assert {t.rule_id: t.reason for t in evaluation.trace}["base"] == (
        "85 points: 1 per unit of subtotal after discounts 85.00"
    )


def test_earn_on_paid_counts_a_redeemed_rewards_discount_too():
    cart = order(("CRIB", 50))
    five_off = [RedeemedReward("RW-X", "five-off", "fixed_discount", value=Decimal(5))]
    assert points_by_rule(program_of(PAID).evaluate_order(customer(), cart, NOW, redeemed=five_off))["base"] == 45
    assert points_by_rule(program_of(RULES).evaluate_order(customer(), cart, NOW, redeemed=five_off))["base"] == 50
