"""A storefront's whole journey over HTTP, as a shop's pages and its back end make it.

A referred shopper with a welcome credit browses with their customer token: the cart
preview shows the free-shipping gap closing as lines are added and suggests the matching
mattress, which the shopper takes; the shopper redeems a reward for a coupon code and the
preview shows what the code gives. The store's back end (an API key) records the order with
the code, the referral completes once the order is past its return window, and then the
order comes back in full. Afterwards the ledger, the coupon, the referral and the outbox
must tell one consistent story.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from persistence import models
from tests.conftest import Server, make_settings, running_server, unique
from tests.e2e.test_referrals import RETURN_WINDOW, code_of, referral_rules, run_referral_job
from tests.graphql_client import ADJUST, TOKEN, enroll, gql
from tests.ledger_checks import assert_points_are_the_sum_of_entries, events_of

CART = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) {
    pointsToEarn
    freeShipping { eligible remaining { amount currency } }
    suggestions { sku ruleId learned }
    discounts { ruleId amount { amount currency } }
    redeemableRewards { reward { id rewardId } }
    rewardsOutOfReach { reward { rewardId } pointsMissing }
    errors { field code message }
  }
}"""

REDEEM = """
mutation($input: RedeemRewardInput!, $key: String) {
  redeemReward(input: $input, idempotencyKey: $key) {
    redemption { id redemptionId code rewardId state value { amount currency } minOrder { amount currency } }
    replayed
    errors { field code message }
  }
}"""

ME = """
{
  me {
    id
    points { available pending lifetimeEarned }
    redemptions { id code state orderExternalId }
    ledger(first: 20) { edges { node { kind bucket points ruleId orderExternalId } } }
  }
}"""

RECORD_ORDER = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { id externalId country lines { sku tags } }
    pointsEarned appliedRules { ruleId points }
    errors { field code message }
  }
}"""

ORDER_NODE = "query($id: ID!) { node(id: $id) { ... on Order { externalId country pointsEarned } } }"

RECORD_RETURN = """
mutation($input: RecordReturnInput!) {
  recordReturn(input: $input) { pointsReversed pointsUnrecovered errors { field code message } }
}"""

CANCEL = """
mutation($code: String!) {
  cancelRedemption(code: $code) { redemption { code state } pointsRefunded errors { field code message } }
}"""

POINTS = "query($id: String!) { customer(externalId: $id) { points { available pending lifetimeEarned } } }"

WELCOME = 150


@pytest.fixture
async def journey_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    """The test program with referral rules (300 points to the referrer, 150 to the friend,
    25 more on a referred friend's first order) and a 14-day return window."""
    folder = referral_rules(tmp_path / "rules")
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


def line(sku: str, price: str, category: str | None = None, *tags: str) -> dict:
    return {"sku": sku, "quantity": 1, "unitPrice": price, "category": category, "tags": list(tags)}


async def preview(storefront: httpx.AsyncClient, lines: list[dict], *codes: str) -> dict:
    request = {"currency": "EUR", "lines": lines, "couponCodes": list(codes), "country": "FR"}
    result = (await gql(storefront, CART, input=request))["evaluateCart"]
    assert result["errors"] == [], result["errors"]
    return result


async def points_of(store: httpx.AsyncClient, customer: str) -> dict:
    return (await gql(store, POINTS, id=customer))["customer"]["points"]


def euros(amount: str) -> dict:
    return {"amount": amount, "currency": "EUR"}


def gap(result: dict) -> tuple[bool, Decimal]:
    """Whether the cart ships free, and what it still needs (in EUR) if not."""
    shipping = result["freeShipping"]
    assert shipping["remaining"]["currency"] == "EUR"
    return shipping["eligible"], Decimal(shipping["remaining"]["amount"])


async def test_a_storefront_journey_from_cart_to_return_leaves_everything_consistent(journey_server: Server):
    referrer, shopper, order_id = unique("referrer"), unique("shopper"), unique("order")
    async with journey_server.client() as store:
        await enroll(store, referrer)
        await enroll(store, shopper, referralCode=await code_of(store, referrer))
        welcome = {"customerExternalId": shopper, "points": WELCOME, "reason": "Welcome to the club"}
        assert (await gql(store, ADJUST, input=welcome))["adjustPoints"]["errors"] == []
        token = (await gql(store, TOKEN, id=shopper))["issueCustomerToken"]["token"]

    async with journey_server.client(token) as storefront:
        # ---- the cart: the free-shipping gap closes, and a suggestion is taken
        cart = [line("BIB-1", "12.00", None, "feeding")]
        first = await preview(storefront, cart)
        assert gap(first) == (False, Decimal("38.00"))
        assert first["suggestions"] == []

        cart.append(line("CRIB-1", "30.00", "cribs", "furniture"))
        second = await preview(storefront, cart)
        assert gap(second) == (False, Decimal("8.00"))
        [suggestion] = second["suggestions"]
        assert suggestion == {"sku": "MATT-CRIB", "ruleId": "crib-mattress", "learned": False}

        cart.append(line(suggestion["sku"], "25.00", "mattresses"))
        third = await preview(storefront, cart)
        assert gap(third) == (True, 0)
        assert third["suggestions"] == []  # the mattress is in the cart now
        # 67 points for 67 EUR, and 25 more for a referred friend's first order.
        assert third["pointsToEarn"] == 92
        # 150 points cover the coffee reward's 100, and the cart its 30 EUR minimum; the cart's
        # reward is the catalogue's, under the same id, for a client's normalised cache.
        [coffee] = [r["reward"] for r in third["redeemableRewards"] if r["reward"]["rewardId"] == "coffee"]
        catalogue = (await gql(storefront, "{ rewards { id rewardId redeemable } }"))["rewards"]
        assert {"id": coffee["id"], "rewardId": "coffee", "redeemable": True} in catalogue

        # ---- redeeming: a coupon code, which the preview then shows at work
        redeem = {"input": {"rewardId": "coffee"}, "key": unique("redeem")}
        redeemed = (await gql(storefront, REDEEM, **redeem))["redeemReward"]
        assert redeemed["errors"] == []
        redemption = redeemed["redemption"]
        assert (redemption["state"], redemption["value"], redemption["minOrder"]) == (
            "active",
            euros("10.00"),
            euros("30.00"),
        )
        retried = (await gql(storefront, REDEEM, **redeem))["redeemReward"]
        assert retried["replayed"] is True and retried["redemption"] == redemption  # spent once
        code = redemption["code"]

        with_code = await preview(storefront, cart, code)
        assert with_code["discounts"] == [{"ruleId": "reward:coffee", "amount": euros("10.00")}]
        out_of_reach = {r["reward"]["rewardId"]: r["pointsMissing"] for r in with_code["rewardsOutOfReach"]}
        assert out_of_reach["coffee"] == 50  # 50 points left of 150

    # ---- the store records the order with the code; later the referral completes
    async with journey_server.client() as store:
        order = {
            "externalId": order_id,
            "customerExternalId": shopper,
            "currency": "EUR",
            "country": "FR",
            "lines": cart,
            "couponCodes": [code],
        }
        placed = (await gql(store, RECORD_ORDER, input=order))["recordOrder"]
        assert placed["errors"] == []
        assert placed["pointsEarned"] == third["pointsToEarn"]  # as the preview said
        assert placed["order"]["country"] == "FR"
        assert [(item["sku"], item["tags"]) for item in placed["order"]["lines"]] == [
            ("BIB-1", ["feeding"]),
            ("CRIB-1", ["furniture"]),
            ("MATT-CRIB", []),
        ]

    async with journey_server.client(token) as storefront:
        used = (await gql(storefront, ME))["me"]["redemptions"]
        assert [(r["code"], r["state"], r["orderExternalId"]) for r in used] == [(code, "used", order_id)]
        # The shopper's own order, fetched again by its id (an order page, a cache refetch).
        mine = (await gql(storefront, ORDER_NODE, id=placed["order"]["id"]))["node"]
        assert mine == {"externalId": order_id, "country": "FR", "pointsEarned": 92}

    await run_referral_job(journey_server, RETURN_WINDOW + 1)

    async with journey_server.client() as store:
        assert (await points_of(store, referrer))["available"] == 300
        assert (await points_of(store, shopper))["available"] == WELCOME - 100 + 150

        # ---- the order comes back in full: its points, the referral and the code with it
        back = {
            "externalId": unique("return"),
            "orderExternalId": order_id,
            "lines": [{"sku": item["sku"], "quantity": item["quantity"]} for item in cart],
        }
        returned = (await gql(store, RECORD_RETURN, input=back))["recordReturn"]
        assert returned["errors"] == []
        assert (returned["pointsReversed"], returned["pointsUnrecovered"]) == (92, 0)

    async with journey_server.client(token) as storefront:
        me = (await gql(storefront, ME))["me"]
        assert me["points"]["available"] == WELCOME - 100  # the referral's 150 taken back
        assert me["points"]["pending"] == 0
        assert [(r["code"], r["state"], r["orderExternalId"]) for r in me["redemptions"]] == [(code, "active", None)]
        cancelled = (await gql(storefront, CANCEL, code=code))["cancelRedemption"]
        assert cancelled["errors"] == [] and cancelled["pointsRefunded"] == 100
        me = (await gql(storefront, ME))["me"]

    # ---- one story: the ledger, the balance, the referral and the outbox agree
    assert me["points"] == {"available": WELCOME, "pending": 0, "lifetimeEarned": 0}
    ledger = [
        (e["node"]["kind"], e["node"]["bucket"], e["node"]["points"], e["node"]["ruleId"])
        for e in me["ledger"]["edges"]
    ]
    assert ledger == [  # newest first; nothing was changed or removed, only appended
        ("REFUND", "AVAILABLE", 100, None),
        ("REVERSE", "AVAILABLE", -150, "friend-reward"),
        ("REVERSE", "PENDING", -25, "referred-first-order"),
        ("REVERSE", "PENDING", -67, "base-earn"),
        ("EARN", "AVAILABLE", 150, "friend-reward"),
        ("EARN", "PENDING", 25, "referred-first-order"),
        ("EARN", "PENDING", 67, "base-earn"),
        ("REDEEM", "AVAILABLE", -100, None),
        ("ADJUST", "AVAILABLE", WELCOME, None),
    ]
    async with journey_server.client() as store:
        for customer in (shopper, referrer):
            await assert_points_are_the_sum_of_entries(await points_of(store, customer), customer)
        assert await points_of(store, referrer) == {"available": 0, "pending": 0, "lifetimeEarned": 0}
    referral = await models.Referral.get(friend__external_id=shopper).select_related("referrer")
    assert (referral.referrer.external_id, referral.status) == (referrer, "taken_back")

    shopper_events = await events_of(shopper)
    assert [kind for kind, _ in shopper_events] == [
        "customer.enrolled",
        "points.adjusted",
        "points.redeemed",
        "reward.redeemed",
        "points.earned",  # the order
        "points.earned",  # the referral, for the friend
        "points.reversed",  # the return
        "points.reversed",  # the referral taken back
        "points.refunded",  # the coupon cancelled
    ]
    redeemed_event = dict(shopper_events)["reward.redeemed"]
    assert (redeemed_event["code"], redeemed_event["redemptionId"]) == (code, redemption["redemptionId"])
    assert_balances_follow_the_events(shopper_events, me["points"])
    referrer_events = await events_of(referrer)
    assert [kind for kind, _ in referrer_events] == [
        "customer.enrolled",
        "points.earned",
        "referral.completed",
        "points.reversed",
    ]
    completed = referrer_events[2][1]
    assert (completed["friendExternalId"], completed["orderExternalId"]) == (shopper, order_id)
    assert (completed["referrerPoints"], completed["friendPoints"]) == (300, 150)
    assert_balances_follow_the_events(referrer_events, {"available": 0, "pending": 0, "lifetimeEarned": 0})


def assert_balances_follow_the_events(events: list[tuple[str, dict]], final: dict) -> None:
    """Each event's balanceAfter is the one before it moved by the event's points, and the
    last one is the balance the API answers: a partner replaying the outbox sees the same."""
    held = 0
    after = {"available": 0, "pending": 0, "lifetimeEarned": 0}
    for kind, payload in events:
        if "balanceAfter" not in payload:
            continue
        # points.reversed names what it took back; the other kinds carry signed points.
        held += -payload["points"] if kind == "points.reversed" else payload["points"]
        after = payload["balanceAfter"]
        assert after["available"] + after["pending"] == held, (kind, payload)
    assert after == final
