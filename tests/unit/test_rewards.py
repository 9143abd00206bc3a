"""The domain of redemptions: eligibility and its reasons, which lots pay, what a refund
gives back, coupon codes, and what a code gives an order within the discount cap."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import DomainError
from domain.program import CustomerFacts, LineFacts, OrderFacts, RedeemedReward, Reward
from domain.rewards import (
    Block,
    Lot,
    Redemption,
    RedemptionState,
    SpentLot,
    Standing,
    check_redeemable,
    just_out_of_reach,
    nearest_first,
    new_code,
    plan_spending,
    points_to_restore,
    reasons_not_redeemable,
    spendable_points,
)
from rules import load_program_from_sources

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
DAY = timedelta(days=1)
COFFEE = Reward("coffee", "10 off", "fixed_discount", 100, value=Decimal(10), min_order=Decimal(30))


def blocks(reward: Reward, **standing) -> list[Block]:
    standing.setdefault("tier", "Bronze")
    standing.setdefault("spendable", 1000)
    return [r.block for r in reasons_not_redeemable(reward, Standing(**standing), NOW)]


# ---- eligibility ----------------------------------------------------------------------------


def test_a_customer_with_the_points_may_redeem():
    assert blocks(COFFEE) == []


def test_points_missing_are_counted_and_pending_ones_named_but_not_spendable():
    [reason] = reasons_not_redeemable(COFFEE, Standing(tier=None, spendable=60, pending=500), NOW)
    assert (reason.block, reason.points_missing) == (Block.INSUFFICIENT_POINTS, 40)
    assert reason.message == "needs 100 points; 60 are available (500 more are pending), 40 missing"


def test_every_reason_is_given_at_once():
    reward = Reward(
        "r",
        "r",
        "free_product",
        10,
        sku="X",
        tiers=("Gold",),
        min_order=Decimal(50),
        limit_per_customer=1,
        limit_period="month",
        stock=5,
        valid_until=NOW - DAY,
    )
    assert blocks(reward, spendable=0, uses=1, stock_left=0, order_subtotal=Decimal(20)) == [
        Block.NO_LONGER_VALID,
        Block.TIER,
        Block.MIN_ORDER,
        Block.LIMIT_REACHED,
        Block.OUT_OF_STOCK,
        Block.INSUFFICIENT_POINTS,
    ]


def test_the_minimum_order_is_only_checked_against_a_cart():
    assert blocks(COFFEE) == []
    assert blocks(COFFEE, order_subtotal=Decimal("29.99")) == [Block.MIN_ORDER]
    assert blocks(COFFEE, order_subtotal=Decimal(30)) == []


def test_a_cart_below_the_minimum_says_how_much_it_still_needs():
    [reason] = reasons_not_redeemable(COFFEE, Standing(tier=None, spendable=100, order_subtotal=Decimal("21.50")), NOW)
    assert (reason.block, reason.amount_missing, reason.points_missing) == (Block.MIN_ORDER, Decimal("8.50"), None)


def test_only_points_and_the_cart_subtotal_are_within_reach():
    def reasons(reward: Reward, **standing) -> list:
        return reasons_not_redeemable(reward, Standing(**{"tier": "Bronze", **standing}), NOW)

    assert not just_out_of_reach(reasons(COFFEE, spendable=100))  # redeemable: not "almost"
    assert just_out_of_reach(reasons(COFFEE, spendable=10, order_subtotal=Decimal(20)))
    assert not just_out_of_reach(reasons(Reward("t", "t", "free_shipping", 1, tiers=("Gold",)), spendable=0))
    assert not just_out_of_reach(reasons(COFFEE, spendable=0, stock_left=0))
    nearer = reasons(COFFEE, spendable=90, order_subtotal=Decimal(10))
    farther = reasons(COFFEE, spendable=80, order_subtotal=Decimal(29))
    assert nearest_first(nearer) == (10, Decimal(20)) and nearest_first(nearer) < nearest_first(farther)


def test_the_validity_window_includes_its_start_and_excludes_its_end():
    assert blocks(Reward("r", "r", "cashback", 1, value=Decimal(1), valid_from=NOW)) == []
    assert blocks(Reward("r", "r", "cashback", 1, value=Decimal(1), valid_from=NOW + DAY)) == [Block.NOT_YET_VALID]
    assert blocks(Reward("r", "r", "cashback", 1, value=Decimal(1), valid_until=NOW)) == [Block.NO_LONGER_VALID]


def test_a_refusal_carries_a_stable_code():
    cases = [
        (Standing(tier=None, spendable=0), "INSUFFICIENT_POINTS"),
        (Standing(tier=None, spendable=100, stock_left=0), "OUT_OF_STOCK"),
    ]
    for standing, code in cases:
        with pytest.raises(DomainError) as caught:
            check_redeemable(COFFEE, standing, NOW)
        assert (caught.value.code, caught.value.field) == (code, ["reward_id"])
    with pytest.raises(DomainError) as caught:
        check_redeemable(Reward("t", "t", "free_shipping", 1, tiers=("Gold",)), Standing("Bronze", 10), NOW)
    assert caught.value.code == "REWARD_NOT_REDEEMABLE"


# ---- paying with points ---------------------------------------------------------------------


def test_points_are_spent_from_the_lots_that_expire_first_then_the_oldest():
    lots = [
        Lot(1, 50, None),
        Lot(2, 50, NOW + 90 * DAY),
        Lot(3, 50, NOW + 30 * DAY),
        Lot(4, 50, NOW + 30 * DAY),
    ]
    assert plan_spending(120, 200, lots, NOW) == [(3, 50), (4, 50), (2, 20)]


def test_lots_past_their_expiry_are_neither_spent_nor_spendable():
    lots = [Lot(1, 70, NOW - DAY), Lot(2, 30, NOW + DAY)]
    assert spendable_points(100, lots, NOW) == 30
    assert plan_spending(30, 100, lots, NOW) == [(2, 30)]


def test_points_beyond_the_lots_are_spent_untraced():
    # 40 points from a manual credit: no lot, no expiry.
    assert plan_spending(60, 70, [Lot(1, 30, NOW + DAY)], NOW) == [(1, 30)]


def test_more_than_is_spendable_is_never_planned():
    with pytest.raises(AssertionError):
        plan_spending(31, 100, [Lot(1, 70, NOW - DAY), Lot(2, 30, NOW + DAY)], NOW)


def test_a_refund_restores_lots_still_valid_and_lets_expired_ones_lapse():
    spent = [SpentLot(1, 30, NOW - DAY), SpentLot(2, 50, NOW + DAY), SpentLot(3, 5, None)]
    restored, refunded, lapsed = points_to_restore(spent, 15, NOW)
    assert [lot.entry_id for lot in restored] == [2, 3]
    assert (refunded, lapsed) == (70, 30)


# ---- coupon codes ---------------------------------------------------------------------------


def test_codes_carry_a_hundred_random_bits_in_an_unambiguous_alphabet():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert re.fullmatch(r"RW(-[0-9A-HJKMNP-TV-Z]{5}){4}", code)
    # 20 symbols of a 32-letter alphabet: 100 bits; every symbol shows up.
    assert set("".join(c[3:].replace("-", "") for c in codes)) == set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def redemption(state: RedemptionState = RedemptionState.ACTIVE, **kw) -> Redemption:
    values = {
        "id": 1,
        "code": "RW-AAAAA-AAAAA-AAAAA-AAAAA",
        "customer_external_id": "c1",
        "reward": RedeemedReward("RW-AAAAA-AAAAA-AAAAA-AAAAA", "coffee", "fixed_discount", Decimal(10)),
        "reward_name": "10 off",
        "points_spent": 100,
        "state": state,
        "created_at": NOW,
        "expires_at": NOW + DAY,
        "currency": "EUR",
        "request_hash": "h",
        **kw,
    }
    return Redemption(**values)


def test_a_code_is_usable_once_by_its_own_customer_before_it_expires():
    redemption().usable_by("c1", NOW)
    cases = [
        (redemption(), "c2", NOW, "COUPON_NOT_YOURS"),
        (redemption(RedemptionState.USED, order_external_id="o1"), "c1", NOW, "COUPON_USED"),
        (redemption(RedemptionState.CANCELLED), "c1", NOW, "COUPON_CANCELLED"),
        (redemption(RedemptionState.EXPIRED), "c1", NOW, "COUPON_EXPIRED"),
        (redemption(), "c1", NOW + DAY, "COUPON_EXPIRED"),
    ]
    for found, customer, when, code in cases:
        with pytest.raises(DomainError) as caught:
            found.usable_by(customer, when)
        assert (caught.value.code, caught.value.field) == (code, ["coupon_codes"])


# ---- what a code gives an order -------------------------------------------------------------

PROGRAM = {
    "program.yaml": """
    program: {name: P, currency: EUR, max_discount_per_order: {amount: 25}}
    rules:
      - id: welcome10
        when: {order: {coupon: WELCOME10}}
        then: {discount: {amount: 10}}
      - id: ship-from-50
        then: {free_shipping: {threshold: 50}}
    """
}


def evaluate(subtotal: str, *rewards: RedeemedReward, coupons: frozenset[str] = frozenset({"WELCOME10"})):
    program = load_program_from_sources({k: textwrap.dedent(v) for k, v in PROGRAM.items()})
    order = OrderFacts("EUR", (LineFacts("S", 1, Decimal(subtotal)),), coupon_codes=coupons)
    return program.evaluate_order(CustomerFacts("c1", tier=None), order, NOW, redeemed=rewards)


def test_a_redeemed_discount_comes_before_the_rules_within_the_per_order_cap():
    half = RedeemedReward("RW-1", "half", "percentage_discount", Decimal(50))
    evaluation = evaluate("100.00", half)
    assert [(d.rule_id, d.amount) for d in evaluation.discounts] == [("reward:half", Decimal("25.00"))]
    trace = {t.rule_id: t for t in evaluation.trace}
    assert not trace["welcome10"].applied
    assert trace["reward:half"].reason == "25.00 off (capped from 50.00 by the per-order cap 25)"
    assert "reward:half" not in evaluation.applied_rule_ids


def test_a_redeemed_discount_and_the_rules_share_the_cap():
    five = RedeemedReward("RW-1", "five", "fixed_discount", Decimal(5))
    evaluation = evaluate("100.00", five)
    assert [(d.rule_id, d.amount) for d in evaluation.discounts] == [
        ("reward:five", Decimal("5.00")),
        ("welcome10", Decimal("10.00")),
    ]


def test_free_shipping_from_a_code_beats_any_threshold_and_a_free_product_is_listed():
    ship = RedeemedReward("RW-1", "ship", "free_shipping")
    tote = RedeemedReward("RW-2", "tote", "free_product", sku="TOTE-01")
    evaluation = evaluate("10.00", ship, tote)
    assert evaluation.free_shipping is not None
    assert (evaluation.free_shipping.eligible, evaluation.free_shipping.rule_id) == (True, "reward:ship")
    assert [(p.sku, p.rule_id) for p in evaluation.free_products] == [("TOTE-01", "reward:tote")]


def test_a_code_below_its_minimum_order_gives_nothing_and_says_why():
    coffee = RedeemedReward("RW-1", "coffee", "fixed_discount", Decimal(10), min_order=Decimal(30))
    evaluation = evaluate("29.99", coffee, coupons=frozenset())
    assert evaluation.discounts == ()
    trace = {t.rule_id: t for t in evaluation.trace}
    assert (trace["reward:coffee"].applied, trace["reward:coffee"].reason) == (False, "needs an order of at least 30")


def test_rewards_declare_stock_validity_and_code_lifetime_in_rule_files():
    program = load_program_from_sources(
        {
            "rewards.yaml": textwrap.dedent(
                """
                rewards:
                  - id: book
                    name: A signed book
                    kind: free_product
                    points_cost: 10
                    sku: BOOK
                    stock: 3
                    valid: {from: 2026-12-01, until: 2026-12-24}
                    expires_in_days: 7
                """
            )
        }
    )
    book = program.reward("book")
    assert book is not None
    assert (book.stock, book.expires_in_days) == (3, 7)
    # A bare-date `until` includes its whole day.
    assert (book.valid_from, book.valid_until) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 25, tzinfo=UTC),
    )
