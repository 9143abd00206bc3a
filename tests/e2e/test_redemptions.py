"""Customers spend points: the catalogue says what they can redeem and why not, a
redemption spends available points for a coupon code, an order uses the code once, and
cancelled, expired or returned ones give back what they took."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.clock import utcnow
from app.jobs import run_jobs
from persistence import models
from rules import load_program
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.conftest import uow_of
from tests.graphql_client import CUSTOMER, RECORD_ORDER, TOKEN, enroll, gql, gql_raw, order_input
from tests.ledger_checks import assert_points_are_the_sum_of_entries, outbox

REWARDS = """
query($customer: String, $subtotal: Decimal) {
  rewards(customerExternalId: $customer, cartSubtotal: $subtotal) {
    rewardId name kind pointsCost stockLeft redeemable unavailable { code message pointsMissing }
  }
}"""

REDEEM = """
mutation($input: RedeemRewardInput!, $key: String) {
  redeemReward(input: $input, idempotencyKey: $key) {
    redemption {
      redemptionId code rewardId kind pointsSpent state expiresAt customerExternalId orderExternalId
      value { amount currency } percent sku
    }
    replayed
    errors { field code message }
  }
}"""

CANCEL = """
mutation($code: String!) {
  cancelRedemption(code: $code) {
    redemption { code state pointsSpent } pointsRefunded errors { field code message }
  }
}"""

EVALUATE_CART = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) {
    discounts { ruleId amount { amount currency } }
    freeShipping { eligible ruleId }
    freeProducts { sku quantity ruleId }
    trace { ruleId applied reason }
    errors { field code message }
  }
}"""

RETURN = """
mutation($input: RecordReturnInput!) {
  recordReturn(input: $input) { pointsReversed errors { field code message } }
}"""


async def customer_with_points(admin: httpx.AsyncClient, points: int) -> str:
    """A customer whose points were earned by an order (so they sit in an earn entry's lot)."""
    customer = unique("cust")
    await enroll(admin, customer)
    if points:
        data = await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, f"{points}.00")))
        assert data["recordOrder"]["pointsEarned"] == points
    return customer


async def token_client(server, admin: httpx.AsyncClient, customer: str) -> httpx.AsyncClient:
    token = (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]
    return server.client(token)


async def balance(admin: httpx.AsyncClient, customer: str) -> dict:
    return (await gql(admin, CUSTOMER, id=customer))["customer"]["points"]


async def redeem(client: httpx.AsyncClient, reward: str, customer: str | None = None, key: str | None = None) -> dict:
    data = await gql(client, REDEEM, input={"rewardId": reward, "customerExternalId": customer}, key=key)
    return data["redeemReward"]


async def redeemed_code(client: httpx.AsyncClient, reward: str, customer: str) -> str:
    payload = await redeem(client, reward, customer)
    assert payload["errors"] == [], payload["errors"]
    return payload["redemption"]["code"]


async def assert_balance_is_the_sum_of_entries(admin: httpx.AsyncClient, customer: str) -> None:
    await assert_points_are_the_sum_of_entries(await balance(admin, customer), customer)


def order_with(customer: str, amount: str, *codes: str, external_id: str | None = None) -> dict:
    return order_input(external_id or unique("order"), customer, ("S", 1, amount), couponCodes=list(codes))


def cart(customer: str, subtotal: str, *codes: str) -> dict:
    return {
        "customerExternalId": customer,
        "currency": "EUR",
        "lines": [{"sku": "S", "quantity": 1, "unitPrice": subtotal}],
        "couponCodes": list(codes),
    }


# ---- the catalogue ---------------------------------------------------------------------------


async def test_a_customer_token_reads_the_catalogue_with_why_each_reward_cannot_be_redeemed(server, admin):
    customer = await customer_with_points(admin, 50)
    async with await token_client(server, admin, customer) as storefront:
        rewards = {r["rewardId"]: r for r in (await gql(storefront, REWARDS, subtotal="20.00"))["rewards"]}

    def why(reward_id: str) -> list[tuple[str, int | None]]:
        return [(u["code"], u["pointsMissing"]) for u in rewards[reward_id]["unavailable"]]

    assert rewards["half-off"]["redeemable"] is True and why("half-off") == []
    assert rewards["coffee"]["redeemable"] is False
    assert why("coffee") == [("MIN_ORDER", None), ("INSUFFICIENT_POINTS", 50)]
    assert why("tote") == [("TIER", None)]
    assert why("future") == [("NOT_YET_VALID", None)]
    assert why("bygone") == [("NO_LONGER_VALID", None)]
    assert isinstance(rewards["scarce"]["stockLeft"], int) and rewards["coffee"]["stockLeft"] is None
    assert rewards["coffee"]["unavailable"][1]["message"] == "needs 100 points; 50 are available, 50 missing"


async def test_a_reward_whose_limit_is_used_says_so(admin):
    customer = await customer_with_points(admin, 50)
    await redeemed_code(admin, "monthly", customer)

    rewards = {r["rewardId"]: r for r in (await gql(admin, REWARDS, customer=customer))["rewards"]}

    assert [u["code"] for u in rewards["monthly"]["unavailable"]] == ["LIMIT_REACHED"]
    again = await redeem(admin, "monthly", customer)
    assert [e["code"] for e in again["errors"]] == ["REWARD_NOT_REDEEMABLE"]


async def test_an_api_key_reads_the_catalogue_and_without_a_customer_gets_no_verdicts(admin):
    rewards = (await gql(admin, REWARDS))["rewards"]

    coffee = {"rewardId": "coffee", "name": "10 EUR off an order of 30 EUR or more", "kind": "fixed_discount"}
    assert coffee.items() <= next(r for r in rewards if r["rewardId"] == "coffee").items()
    assert {r["redeemable"] for r in rewards} == {None}


async def test_the_catalogues_amounts_are_money_and_a_percentage_is_a_number(admin):
    query = "{ rewards { rewardId value { amount currency } percent minOrder { amount currency } } }"
    rewards = {r["rewardId"]: r for r in (await gql(admin, query))["rewards"]}

    assert rewards["coffee"] == {
        "rewardId": "coffee",
        "value": {"amount": "10", "currency": "EUR"},
        "percent": None,
        "minOrder": {"amount": "30", "currency": "EUR"},
    }
    assert (rewards["half-off"]["value"], rewards["half-off"]["percent"]) == (None, "50")
    assert rewards["cashback-5"]["value"] == {"amount": "5", "currency": "EUR"}
    assert rewards["ship-free"]["value"] is None and rewards["ship-free"]["minOrder"] is None


async def test_a_bad_cart_subtotal_is_refused_naming_the_argument(admin):
    customer = await customer_with_points(admin, 0)

    response = await gql_raw(admin, REWARDS, customer=customer, subtotal="-5")

    [error] = response.json()["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("INVALID_PRICE", ["cartSubtotal"])


async def test_a_customer_token_cannot_read_another_customers_view_of_the_catalogue(server, admin):
    customer = await customer_with_points(admin, 0)
    other = await customer_with_points(admin, 0)
    async with await token_client(server, admin, customer) as storefront:
        response = await gql_raw(storefront, REWARDS, customer=other)
    assert response.json()["errors"][0]["message"].startswith("This needs an API key")


# ---- redeeming -------------------------------------------------------------------------------


async def test_a_customer_redeems_with_their_token_for_a_code_that_cannot_be_guessed(server, admin):
    customer = await customer_with_points(admin, 150)
    async with await token_client(server, admin, customer) as storefront:
        payload = await redeem(storefront, "coffee")

    assert payload["errors"] == []
    redemption = payload["redemption"]
    # RW- and 20 Crockford base32 characters: 100 random bits.
    assert re.fullmatch(r"RW(-[0-9A-HJKMNP-TV-Z]{5}){4}", redemption["code"])
    assert redemption | {"code": None, "redemptionId": None, "expiresAt": None} == {
        "redemptionId": None,
        "code": None,
        "rewardId": "coffee",
        "kind": "fixed_discount",
        "pointsSpent": 100,
        "state": "active",
        "expiresAt": None,
        "customerExternalId": customer,
        "orderExternalId": None,
        "value": {"amount": "10.00", "currency": "EUR"},
        "percent": None,
        "sku": None,
    }
    expires = datetime.fromisoformat(redemption["expiresAt"])
    assert abs(expires - (utcnow() + timedelta(days=30))) < timedelta(minutes=5)
    assert await balance(admin, customer) == {"available": 50, "pending": 0, "lifetimeEarned": 150}
    ledger = (await gql(admin, CUSTOMER, id=customer))["customer"]["ledger"]["edges"]
    assert (ledger[0]["node"]["kind"], ledger[0]["node"]["points"]) == ("REDEEM", -100)
    spent = {"redemptionId": redemption["redemptionId"], "rewardId": "coffee"}
    after = {"available": 50, "pending": 0, "lifetimeEarned": 150}
    assert await outbox(customer, "points.redeemed") == [{**spent, "points": -100, "balanceAfter": after}]
    assert await outbox(customer, "reward.redeemed") == [
        {
            **spent,
            "kind": "fixed_discount",
            "rewardName": "10 EUR off an order of 30 EUR or more",
            "code": redemption["code"],
            "pointsSpent": 100,
            "expiresAt": redemption["expiresAt"],
        }
    ]
    await assert_balance_is_the_sum_of_entries(admin, customer)


async def test_a_retry_with_the_same_key_returns_the_same_redemption_and_other_input_is_a_conflict(admin):
    customer = await customer_with_points(admin, 100)
    key = unique("key")

    first = await redeem(admin, "half-off", customer, key)
    again = await redeem(admin, "half-off", customer, key)
    other = await redeem(admin, "ship-free", customer, key)

    assert first["errors"] == [] and again["errors"] == []
    assert again["redemption"] == first["redemption"] and again["replayed"] is True
    assert (first["redemption"]["percent"], first["redemption"]["value"]) == ("50", None)
    assert other["redemption"] is None
    assert [(e["code"], e["field"]) for e in other["errors"]] == [("IDEMPOTENCY_CONFLICT", ["idempotencyKey"])]
    assert (await balance(admin, customer))["available"] == 80


async def test_redeeming_more_than_available_or_unknown_or_ineligible_rewards_spends_nothing(admin):
    customer = await customer_with_points(admin, 90)

    too_dear = await redeem(admin, "coffee", customer)
    unknown = await redeem(admin, "no-such-reward", customer)
    wrong_tier = await redeem(admin, "tote", customer)
    not_yet = await redeem(admin, "future", customer)
    no_customer = await redeem(admin, "half-off")

    assert [e["code"] for e in too_dear["errors"]] == ["INSUFFICIENT_POINTS"]
    assert "90 are available, 10 missing" in too_dear["errors"][0]["message"]
    assert [e["code"] for e in unknown["errors"]] == ["REWARD_NOT_FOUND"]
    assert [e["code"] for e in wrong_tier["errors"]] == ["REWARD_NOT_REDEEMABLE"]
    assert [e["code"] for e in not_yet["errors"]] == ["REWARD_NOT_REDEEMABLE"]
    assert [(e["code"], e["field"]) for e in no_customer["errors"]] == [("REQUIRED", ["customerExternalId"])]
    assert await balance(admin, customer) == {"available": 90, "pending": 0, "lifetimeEarned": 90}
    assert await models.Redemption.filter(customer__external_id=customer).count() == 0


async def test_a_customer_token_cannot_redeem_for_another_customer(server, admin):
    customer = await customer_with_points(admin, 0)
    other = await customer_with_points(admin, 100)
    async with await token_client(server, admin, customer) as storefront:
        response = await gql_raw(storefront, REDEEM, input={"rewardId": "half-off", "customerExternalId": other})
    assert response.json()["errors"][0]["message"].startswith("This needs the customer's own token")
    assert (await balance(admin, other))["available"] == 100


async def test_stock_runs_out_and_says_so(admin):
    customers = [await customer_with_points(admin, 10) for _ in range(5)]
    left = next(r for r in (await gql(admin, REWARDS))["rewards"] if r["rewardId"] == "scarce")["stockLeft"]

    results = await asyncio.gather(*(redeem(admin, "scarce", c) for c in customers))

    succeeded = [r for r in results if not r["errors"]]
    assert len(succeeded) == min(left, 5)
    assert {e["code"] for r in results for e in r["errors"]} <= {"OUT_OF_STOCK"}
    assert next(r for r in (await gql(admin, REWARDS))["rewards"] if r["rewardId"] == "scarce")["stockLeft"] == max(
        0, left - 5
    )


# ---- coupon codes on carts and orders -------------------------------------------------------


async def test_a_cart_with_codes_shows_the_discount_within_the_cap_free_shipping_and_a_free_product(admin):
    customer = await customer_with_points(admin, 100)
    half, ship = await redeemed_code(admin, "half-off", customer), await redeemed_code(admin, "ship-free", customer)

    result = (await gql(admin, EVALUATE_CART, input=cart(customer, "100.00", half, ship, "WELCOME10")))["evaluateCart"]

    assert result["errors"] == []
    # The program caps discounts at 25.00 an order: the reward (paid for) comes first.
    assert result["discounts"] == [{"ruleId": "reward:half-off", "amount": {"amount": "25.00", "currency": "EUR"}}]
    assert result["freeShipping"] == {"eligible": True, "ruleId": "reward:ship-free"}
    trace = {t["ruleId"]: t for t in result["trace"]}
    assert trace["welcome10"] == {
        "ruleId": "welcome10",
        "applied": False,
        "reason": "per-order discount cap 25 already reached",
    }
    assert "capped from 50.00" in trace["reward:half-off"]["reason"]
    anonymous = {**cart(customer, "100.00", half), "customerExternalId": None}
    refused = (await gql(admin, EVALUATE_CART, input=anonymous))["evaluateCart"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("REQUIRED", ["customerExternalId"])]


async def test_a_cart_shows_a_free_product_and_a_minimum_order_not_reached(admin, server):
    customer = await customer_with_points(admin, 700)  # 700 lifetime points: Silver
    tote, coffee = await redeemed_code(admin, "tote", customer), await redeemed_code(admin, "coffee", customer)
    async with await token_client(server, admin, customer) as storefront:
        request = cart(customer, "20.00", tote.lower(), coffee)
        del request["customerExternalId"]
        result = (await gql(storefront, EVALUATE_CART, input=request))["evaluateCart"]

    assert result["errors"] == []
    assert result["freeProducts"] == [{"sku": "TOTE-01", "quantity": 1, "ruleId": "reward:tote"}]
    assert result["discounts"] == []
    coffee_trace = next(t for t in result["trace"] if t["ruleId"] == "reward:coffee")
    assert coffee_trace == {"ruleId": "reward:coffee", "applied": False, "reason": "needs an order of at least 30.00"}


async def test_an_order_uses_a_code_once_and_only_for_its_own_customer(admin):
    customer = await customer_with_points(admin, 100)
    other = await customer_with_points(admin, 0)
    code = await redeemed_code(admin, "half-off", customer)
    order = order_input(unique("order"), customer, ("S", 1, "40.00"), couponCodes=[code, "WELCOME10"])

    first = (await gql(admin, RECORD_ORDER, input=order))["recordOrder"]
    replay = (await gql(admin, RECORD_ORDER, input=order))["recordOrder"]
    second = (await gql(admin, RECORD_ORDER, input={**order, "externalId": unique("order")}))["recordOrder"]
    foreign = (await gql(admin, RECORD_ORDER, input=order_with(other, "40.00", code)))["recordOrder"]

    assert first["errors"] == [] and first["pointsEarned"] == 40
    assert replay["errors"] == [] and replay["replayed"] is True
    assert [(e["code"], e["field"]) for e in second["errors"]] == [("COUPON_USED", ["couponCodes"])]
    assert [e["code"] for e in foreign["errors"]] == ["COUPON_NOT_YOURS"]
    assert (await balance(admin, other))["lifetimeEarned"] == 0
    stored = await models.Redemption.get(code=code).select_related("order")
    assert (stored.state, stored.order.external_id) == ("used", order["externalId"])


async def test_an_expired_or_unknown_code_is_refused_and_nothing_is_recorded(admin):
    customer = await customer_with_points(admin, 100)
    code = await redeemed_code(admin, "half-off", customer)
    await models.Redemption.filter(code=code).update(expires_at=utcnow() - timedelta(seconds=1))
    order_id = unique("order")

    expired = (
        await gql(admin, RECORD_ORDER, input=order_input(order_id, customer, ("S", 1, "40.00"), couponCodes=[code]))
    )["recordOrder"]
    unknown = (
        await gql(
            admin,
            RECORD_ORDER,
            input=order_input(order_id, customer, ("S", 1, "40.00"), couponCodes=["RW-00000-00000-00000-00000"]),
        )
    )["recordOrder"]

    assert [e["code"] for e in expired["errors"]] == ["COUPON_EXPIRED"]
    assert [e["code"] for e in unknown["errors"]] == ["COUPON_NOT_FOUND"]
    assert await models.Order.filter(external_id=order_id).count() == 0


async def test_an_order_below_a_codes_minimum_is_refused(admin):
    customer = await customer_with_points(admin, 100)
    code = await redeemed_code(admin, "coffee", customer)

    result = (await gql(admin, RECORD_ORDER, input=order_with(customer, "29.99", code)))["recordOrder"]

    assert [e["code"] for e in result["errors"]] == ["COUPON_NOT_APPLICABLE"]
    assert (await models.Redemption.get(code=code)).state == "active"


async def test_a_wholly_returned_order_gives_its_code_back(admin):
    customer = await customer_with_points(admin, 100)
    code = await redeemed_code(admin, "half-off", customer)
    order = order_input(unique("order"), customer, ("S", 2, "20.00"), couponCodes=[code])
    await gql(admin, RECORD_ORDER, input=order)

    one = [{"sku": "S", "quantity": 1}]
    partial = {"externalId": unique("ret"), "orderExternalId": order["externalId"], "lines": one}
    assert (await gql(admin, RETURN, input=partial))["recordReturn"]["errors"] == []
    assert (await models.Redemption.get(code=code)).state == "used"
    rest = {**partial, "externalId": unique("ret")}
    assert (await gql(admin, RETURN, input=rest))["recordReturn"]["errors"] == []

    assert (await models.Redemption.get(code=code)).state == "active"
    again = order_with(customer, "30.00", code)
    assert (await gql(admin, RECORD_ORDER, input=again))["recordOrder"]["errors"] == []


# ---- giving points back ---------------------------------------------------------------------


async def test_cancelling_gives_the_points_back_once_and_the_code_stops_working(server, admin):
    customer = await customer_with_points(admin, 100)
    code = await redeemed_code(admin, "half-off", customer)
    async with await token_client(server, admin, customer) as storefront:
        cancelled = (await gql(storefront, CANCEL, code=code))["cancelRedemption"]
        twice = (await gql(storefront, CANCEL, code=code))["cancelRedemption"]

    async with await token_client(server, admin, customer) as storefront:
        mine = (await gql(storefront, "{ me { redemptions { code state } } }"))["me"]["redemptions"]
        active = (await gql(storefront, "{ me { redemptions(activeOnly: true) { code } } }"))["me"]["redemptions"]
    assert mine == [{"code": code, "state": "cancelled"}] and active == []
    assert cancelled["errors"] == [] and cancelled["pointsRefunded"] == 20
    assert cancelled["redemption"] == {"code": code, "state": "cancelled", "pointsSpent": 20}
    assert [e["code"] for e in twice["errors"]] == ["COUPON_CANCELLED"]
    assert await balance(admin, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    kinds = [e["node"]["kind"] for e in (await gql(admin, CUSTOMER, id=customer))["customer"]["ledger"]["edges"]]
    assert kinds[:2] == ["REFUND", "REDEEM"]
    assert [p["points"] for p in await outbox(customer, "points.refunded")] == [20]
    order = order_with(customer, "40.00", code)
    assert [e["code"] for e in (await gql(admin, RECORD_ORDER, input=order))["recordOrder"]["errors"]] == [
        "COUPON_CANCELLED"
    ]
    await assert_balance_is_the_sum_of_entries(admin, customer)


async def test_a_customer_cannot_cancel_another_customers_redemption_nor_a_used_one(server, admin):
    customer = await customer_with_points(admin, 100)
    other = await customer_with_points(admin, 0)
    code = await redeemed_code(admin, "half-off", customer)
    async with await token_client(server, admin, other) as storefront:
        foreign = (await gql(storefront, CANCEL, code=code))["cancelRedemption"]
    await gql(admin, RECORD_ORDER, input=order_with(customer, "40.00", code))
    used = (await gql(admin, CANCEL, code=code))["cancelRedemption"]

    assert [e["code"] for e in foreign["errors"]] == ["COUPON_NOT_FOUND"]
    assert [e["code"] for e in used["errors"]] == ["COUPON_USED"]
    assert (await balance(admin, customer))["available"] == 80 + 40


async def test_an_unused_redemption_expires_and_gives_its_points_back_once_by_the_jobs(server, admin):
    customer = await customer_with_points(admin, 100)
    code = await redeemed_code(admin, "half-off", customer)
    later = utcnow() + timedelta(days=31)

    program, uow = load_program(TEST_RULES_DIR), uow_of(server)
    reports = await asyncio.gather(
        run_jobs(uow, "redemption-expiry", later, program), run_jobs(uow, None, later, program)
    )

    assert sum(r.points for rs in reports for r in rs if r.name == "redemption-expiry") >= 20
    assert (await models.Redemption.get(code=code)).state == "expired"
    assert await balance(admin, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    assert [p["points"] for p in await outbox(customer, "points.refunded")] == [20]
    await assert_balance_is_the_sum_of_entries(admin, customer)


# ---- concurrency ----------------------------------------------------------------------------


async def test_a_hundred_concurrent_redemptions_against_a_balance_for_one_spend_once(admin):
    customer = await customer_with_points(admin, 100)

    results = await asyncio.gather(*(redeem(admin, "coffee", customer) for _ in range(100)))

    assert sum(not r["errors"] for r in results) == 1
    assert {e["code"] for r in results for e in r["errors"]} == {"INSUFFICIENT_POINTS"}
    assert (await balance(admin, customer))["available"] == 0
    await assert_balance_is_the_sum_of_entries(admin, customer)


async def test_fifty_concurrent_orders_using_one_code_consume_it_once(admin):
    customer = await customer_with_points(admin, 100)
    code = await redeemed_code(admin, "half-off", customer)

    results = await asyncio.gather(
        *(gql(admin, RECORD_ORDER, input=order_with(customer, "40.00", code)) for _ in range(50))
    )

    payloads = [r["recordOrder"] for r in results]
    assert sum(not p["errors"] for p in payloads) == 1
    assert {e["code"] for p in payloads for e in p["errors"]} == {"COUPON_USED"}
    assert await models.Order.filter(customer__external_id=customer).count() == 2  # the first order, and this one
    await assert_balance_is_the_sum_of_entries(admin, customer)


# ---- expiry stays right ---------------------------------------------------------------------


@pytest.fixture
async def expiring_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    """A second server on the same database whose points expire after 30 days, except those
    of the coupon LONG, which last 90."""
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    program = folder / "program.yaml"
    program.write_text(
        program.read_text().replace("  currency: EUR\n", "  currency: EUR\n  points: {expires_in_days: 30}\n", 1)
    )
    (folder / "long.yaml").write_text(
        "rules:\n  - id: long-bonus\n    when: {order: {coupon: LONG}}\n"
        "    then: {points: {fixed: 100, expires_in_days: 90}}\n"
    )
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


async def customer_with_short_and_long_points(admin: httpx.AsyncClient) -> str:
    """100 points expiring in 30 days, then 1 more, and 100 expiring in 90 days."""
    customer = await customer_with_points(admin, 100)
    long = order_input(unique("order"), customer, ("S", 1, "1.00"), couponCodes=["LONG"])
    assert (await gql(admin, RECORD_ORDER, input=long))["recordOrder"]["pointsEarned"] == 101
    return customer


async def test_points_spent_on_a_reward_never_expire_later_and_points_that_last_longer_stay(expiring_server):
    async with expiring_server.client() as admin:
        customer = await customer_with_short_and_long_points(admin)
        code = await redeemed_code(admin, "coffee", customer)  # 100 points: the first 30-day lot
        used = (await gql(admin, RECORD_ORDER, input=order_with(customer, "30.00", code)))["recordOrder"]
        assert used["errors"] == [] and used["pointsEarned"] == 30

        await run_jobs(uow_of(expiring_server), None, utcnow() + timedelta(days=31), load_program(TEST_RULES_DIR))

        # Expired: the 1 point and the 30 just earned; the 100 spent are not taken twice, so
        # the 90-day points are all still there.
        assert await balance(admin, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 231}
        await assert_balance_is_the_sum_of_entries(admin, customer)


async def test_an_unused_redemption_that_outlives_its_points_gives_back_only_what_has_not_expired(expiring_server):
    async with expiring_server.client() as admin:
        customer = await customer_with_short_and_long_points(admin)
        await redeemed_code(admin, "coffee", customer)

        await run_jobs(uow_of(expiring_server), None, utcnow() + timedelta(days=31), load_program(TEST_RULES_DIR))

        assert await outbox(customer, "points.refunded") == [
            {
                "redemptionId": ANY_ID,
                "rewardId": "coffee",
                "points": 0,
                "lapsed": 100,
                "reason": "expired",
                "balanceAfter": {"available": 101, "pending": 0, "lifetimeEarned": 201},
            }
        ]
        assert await balance(admin, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 201}
        await assert_balance_is_the_sum_of_entries(admin, customer)


class _AnyId(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.isdigit()

    __hash__ = str.__hash__


ANY_ID = _AnyId()


async def test_marketers_plain_coupons_keep_working_beside_a_redemptions_code(admin):
    customer = await customer_with_points(admin, 100)
    ship = await redeemed_code(admin, "ship-free", customer)

    result = (await gql(admin, EVALUATE_CART, input=cart(customer, "40.00", "welcome10", ship)))["evaluateCart"]

    assert result["errors"] == []
    assert result["discounts"] == [{"ruleId": "welcome10", "amount": {"amount": "10.00", "currency": "EUR"}}]
    assert result["freeShipping"] == {"eligible": True, "ruleId": "reward:ship-free"}
    order = order_with(customer, "40.00", "WELCOME10", ship)
    assert (await gql(admin, RECORD_ORDER, input=order))["recordOrder"]["errors"] == []
    assert (await models.Redemption.get(code=ship)).state == "used"
