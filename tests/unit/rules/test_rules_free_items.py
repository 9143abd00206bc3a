"""A free item added to the order (`then: {free_item: {sku, value}}`): whole or nothing,
within the per-order discount cap and money budgets, its value counted as a discount."""

from decimal import Decimal

from rules_testkit import NOW, customer, errors_of, order, program_of

from domain.program import FreeProduct, UsageSnapshot

FREE = """
program: {max_discount_per_order: {amount: 10}}
campaigns:
  - {id: totes, budget: {amount: 12}}
rules:
  - id: tote
    campaign: totes
    priority: 5
    when: {order: {subtotal: {gte: 50}}}
    then: {free_item: {sku: TOTE, value: 4.90, quantity: 2}}
  - {id: seven-off, then: {discount: {amount: 7}}}
"""


def test_a_free_item_is_offered_with_its_value_and_counts_toward_the_discount_cap():
    evaluation = program_of(FREE).evaluate_order(customer(), order(("A", 60)), NOW)
    assert evaluation.free_products == (FreeProduct("TOTE", "tote", 2, Decimal("9.80")),)
    # 9.80 of the 10.00 cap is taken by the free totes: the discount gets the 0.20 left.
    assert [(d.rule_id, d.amount) for d in evaluation.discounts] == [("seven-off", Decimal("0.20"))]
    assert {t.rule_id: t.reason for t in evaluation.trace}["tote"] == "2 x TOTE free (worth 9.80)"


def test_a_free_item_is_whole_or_nothing_under_its_budget_and_the_cap():
    program = program_of(FREE)
    spent = UsageSnapshot(program_amounts={"campaign:totes": Decimal("3")})
    evaluation = program.evaluate_order(customer(), order(("A", 60)), NOW, spent)
    assert evaluation.free_products == ()
    reason = {t.rule_id: t.reason for t in evaluation.trace}["tote"]
    assert reason == "budget leaves 9.00 of campaign 'totes'; the free TOTE is worth 9.80"
    capped = program_of(FREE.replace("amount: 10}", "amount: 5}"))
    evaluation = capped.evaluate_order(customer(), order(("A", 60)), NOW)
    assert evaluation.free_products == ()
    assert {t.rule_id: t.reason for t in evaluation.trace}["tote"] == (
        "per-order discount cap leaves 5; the free TOTE is worth 9.80"
    )


def test_a_free_item_needs_a_sku_and_its_value():
    errors = errors_of(**{"f.yaml": "rules:\n  - {id: f, then: {free_item: {sku: TOTE}}}\n"})
    assert errors == ["f.yaml:2:31: rule 'f', then.free_item: 'value' is missing"]


def test_a_backtest_counts_a_free_item_among_the_discounts_at_its_value():
    from rules.backtest import Tally

    tally = Tally()
    tally.add(program_of(FREE).evaluate_order(customer(), order(("A", 60)), NOW))
    assert tally.figures("tote").discounts == Decimal("9.80")
