"""What a rule needs to have been seen to fire (`loyalty rules check --against-db`)."""

from __future__ import annotations

from rules import load_program_from_sources
from rules.reach import named, unmet

RULES = """
program: {name: Reach, currency: EUR}
tiers:
  - {name: Bronze, threshold: 0}
  - {name: Gold, threshold: 100}
rules:
  - id: one-sku
    when: {cart: {any_line: {sku: NEW-1}}}
    then: {points: {fixed: 1}}
  - id: one-of-two
    when: {cart: {any_line: {sku: [NEW-1, OLD-1]}}}
    then: {points: {fixed: 1}}
  - id: not-this-sku
    when: {cart: {no_line: {sku: NEW-1}}, not: {customer: {tier: Gold}}}
    then: {points: {fixed: 1}}
  - id: either
    when:
      any:
        - customer: {tier: Gold}
        - order: {coupon: spring}
    then: {points: {fixed: 1}}
  - id: either-or-anyone
    when:
      any:
        - customer: {tier: Gold}
        - order: {subtotal: {gte: 10}}
    then: {points: {fixed: 1}}
  - id: much-feeding
    when: {cart: {sum: {lines: {category: feeding}, value: {gte: 50}}}}
    then: {points: {fixed: 1}}
  - id: little-feeding
    when: {cart: {sum: {lines: {category: feeding}, value: {lt: 5}}}}
    then: {points: {fixed: 1}}
  - id: off-the-lamp
    then: {discount: {percent: 10, lines: {sku: LAMP}}}
  - id: reviews
    on: review.published
    then: {points: {fixed: 1}}
"""

PROGRAM = load_program_from_sources({"program.yaml": RULES})
SEEN = {"sku": {"OLD-1"}, "category": set(), "coupon": {"SPRING"}, "tier": {"Bronze"}, "event_type": set()}


def reasons(rule_id: str) -> list[str]:
    return unmet(PROGRAM.rule(rule_id), SEEN)


def test_a_rule_needing_an_unseen_value_is_reported_where_it_names_it():
    assert reasons("one-sku") == ["when.cart.any_line.sku: sku NEW-1 never seen"]
    assert reasons("reviews") == ["on: event type review.published never seen"]
    assert reasons("off-the-lamp") == ["then.discount.lines.sku: sku LAMP never seen"]


def test_one_value_of_a_list_seen_is_enough():
    assert reasons("one-of-two") == []


def test_no_line_and_not_never_stop_a_rule():
    assert reasons("not-this-sku") == []


def test_an_any_needs_one_alternative_and_coupons_match_in_any_case():
    assert reasons("either") == []
    unseen = {**SEEN, "coupon": set()}
    assert unmet(PROGRAM.rule("either"), unseen) == [
        "when.any: no alternative can hold (when.any[0].customer.tier: tier Gold never seen;"
        " when.any[1].order.coupon: coupon spring never seen)"
    ]
    # An alternative that names nothing can always hold.
    assert unmet(PROGRAM.rule("either-or-anyone"), unseen) == []


def test_a_sum_needs_its_lines_only_when_an_empty_sum_fails_it():
    assert reasons("much-feeding") == ["when.cart.sum.lines.category: category feeding never seen"]
    assert reasons("little-feeding") == []


def test_named_lists_every_value_to_look_for():
    names = named(PROGRAM.rules)
    assert names["sku"] == {"NEW-1", "OLD-1", "LAMP"}
    assert names["coupon"] == {"spring"}
    assert names["tier"] == {"Gold"}
    assert names["event_type"] == {"review.published"}
    assert names["category"] == {"feeding"}
