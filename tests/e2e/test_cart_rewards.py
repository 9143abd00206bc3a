"""A cart preview shows the customer's rewards: those redeemable on this cart, and those just
out of reach (missing points, or a subtotal below the minimum order), each saying why."""

from __future__ import annotations

import httpx

from tests.conftest import Server
from tests.e2e.test_redemptions import customer_with_points, token_client
from tests.graphql_client import gql

REWARD_FIELDS = """
  reward { rewardId pointsCost redeemable unavailable { code } }
  unavailable { code message pointsMissing amountMissing { amount currency } }
  pointsMissing
"""

EVALUATE_CART = f"""
query($input: EvaluateCartInput!) {{
  evaluateCart(input: $input) {{
    redeemableRewards {{ {REWARD_FIELDS} }}
    rewardsOutOfReach {{ {REWARD_FIELDS} }}
    errors {{ field code message }}
  }}
}}"""

# "scarce" has a stock every test shares: whether it is left depends on the others.
SHARED_STOCK = {"scarce"}


def cart(subtotal: str, customer: str | None = None) -> dict:
    return {
        "currency": "EUR",
        "lines": [{"sku": "LAMP", "quantity": 1, "unitPrice": subtotal}],
        "customerExternalId": customer,
    }


async def rewards_on(client: httpx.AsyncClient, request: dict) -> dict:
    result = (await gql(client, EVALUATE_CART, input=request))["evaluateCart"]
    assert result["errors"] == []
    return result


def ids(rewards: list[dict]) -> list[str]:
    return [r["reward"]["rewardId"] for r in rewards if r["reward"]["rewardId"] not in SHARED_STOCK]


async def test_a_customer_sees_what_this_cart_lets_them_redeem_and_what_is_just_out_of_reach(
    server: Server, admin: httpx.AsyncClient
):
    customer = await customer_with_points(admin, 50)  # a Bronze customer with 50 points

    result = await rewards_on(admin, cart("20.00", customer))

    # Tiers (tote), dates (future, bygone) are not the customer's to change: not "almost".
    assert sorted(ids(result["redeemableRewards"])) == ["half-off", "monthly", "ship-free"]
    assert all(r["unavailable"] == [] and r["pointsMissing"] == 0 for r in result["redeemableRewards"])
    near = {r["reward"]["rewardId"]: r for r in result["rewardsOutOfReach"]}
    assert ids(result["rewardsOutOfReach"]) == ["cashback-5", "coffee", "five-off"]  # fewest points missing first
    assert near["cashback-5"]["pointsMissing"] == 10
    assert near["five-off"]["pointsMissing"] == 450
    coffee = near["coffee"]
    assert coffee["pointsMissing"] == 50
    assert [(u["code"], u["pointsMissing"], u["amountMissing"]) for u in coffee["unavailable"]] == [
        ("MIN_ORDER", None, {"amount": "10.00", "currency": "EUR"}),
        ("INSUFFICIENT_POINTS", 50, None),
    ]
    # The reward itself is the catalogue's view (no cart): one Reward per id in a client's cache.
    assert coffee["reward"] == {
        "rewardId": "coffee",
        "pointsCost": 100,
        "redeemable": False,
        "unavailable": [{"code": "INSUFFICIENT_POINTS"}],
    }


async def test_a_larger_cart_or_more_points_bring_a_reward_within_reach(server: Server, admin: httpx.AsyncClient):
    customer = await customer_with_points(admin, 120)

    small = await rewards_on(admin, cart("20.00", customer))
    large = await rewards_on(admin, cart("30.00", customer))

    assert "coffee" in ids(small["rewardsOutOfReach"]) and "coffee" not in ids(small["redeemableRewards"])
    [coffee] = [r for r in small["rewardsOutOfReach"] if r["reward"]["rewardId"] == "coffee"]
    assert [u["code"] for u in coffee["unavailable"]] == ["MIN_ORDER"] and coffee["pointsMissing"] == 0
    # Its Reward is the catalogue's verdict (redeemable: no cart, no minimum to miss).
    assert coffee["reward"]["redeemable"] is True and coffee["reward"]["unavailable"] == []
    assert "coffee" in ids(large["redeemableRewards"]) and "coffee" not in ids(large["rewardsOutOfReach"])


async def test_a_customer_token_sees_its_own_rewards_and_a_guest_cart_gets_none(
    server: Server, admin: httpx.AsyncClient
):
    customer = await customer_with_points(admin, 50)
    async with await token_client(server, admin, customer) as storefront:
        own = await rewards_on(storefront, cart("20.00"))
    guest = await rewards_on(admin, cart("20.00"))

    assert sorted(ids(own["redeemableRewards"])) == ["half-off", "monthly", "ship-free"]
    assert guest["redeemableRewards"] == [] and guest["rewardsOutOfReach"] == []


async def test_a_reward_used_up_this_month_is_neither_redeemable_nor_almost(admin: httpx.AsyncClient):
    customer = await customer_with_points(admin, 50)
    redeemed = await gql(
        admin,
        "mutation($input: RedeemRewardInput!) { redeemReward(input: $input) { errors { code } } }",
        input={"rewardId": "monthly", "customerExternalId": customer},
    )
    assert redeemed["redeemReward"]["errors"] == []

    result = await rewards_on(admin, cart("20.00", customer))

    assert "monthly" not in ids(result["redeemableRewards"]) + ids(result["rewardsOutOfReach"])
    assert sorted(ids(result["redeemableRewards"])) == ["half-off", "ship-free"]
