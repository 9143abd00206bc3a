"""Objects a client caches have a Relay global `id`, and `node(id:)` fetches them again:
Apollo Client and urql normalise their caches without hand-written keys."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import Server, unique
from tests.graphql_client import ADJUST, TOKEN, enroll, gql, gql_raw, order_input

IDS = """
query($id: String!) {
  customer(externalId: $id) { id externalId ledger(first: 5) { edges { node { id points } } } }
}"""

NODE = """
query($id: ID!) {
  node(id: $id) {
    id __typename
    ... on Customer { externalId }
    ... on LedgerEntry { points reason }
  }
}"""


async def _customer_with_entry(admin: httpx.AsyncClient) -> dict:
    customer = unique("relay")
    await enroll(admin, customer)
    adjusted = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 7, "reason": "welcome"})
    assert adjusted["adjustPoints"]["errors"] == []
    return (await gql(admin, IDS, id=customer))["customer"]


async def test_a_customer_and_its_entries_are_fetched_again_by_their_ids(admin: httpx.AsyncClient):
    customer = await _customer_with_entry(admin)
    entry = customer["ledger"]["edges"][0]["node"]
    assert customer["id"] != entry["id"]
    again = (await gql(admin, NODE, id=customer["id"]))["node"]
    assert again == {"id": customer["id"], "__typename": "Customer", "externalId": customer["externalId"]}
    entry_again = (await gql(admin, NODE, id=entry["id"]))["node"]
    assert entry_again == {"id": entry["id"], "__typename": "LedgerEntry", "points": 7, "reason": "welcome"}


async def test_a_customer_token_fetches_only_its_own_nodes(admin: httpx.AsyncClient, server: Server):
    mine, theirs = await _customer_with_entry(admin), await _customer_with_entry(admin)
    token = (await gql(admin, TOKEN, id=mine["externalId"]))["issueCustomerToken"]["token"]
    async with server.client(token) as storefront:
        assert (await gql(storefront, NODE, id=mine["id"]))["node"]["externalId"] == mine["externalId"]
        assert (await gql(storefront, NODE, id=theirs["id"]))["node"] is None
        assert (await gql(storefront, NODE, id=theirs["ledger"]["edges"][0]["node"]["id"]))["node"] is None


async def test_an_id_that_is_not_one_is_bad_user_input(admin: httpx.AsyncClient):
    body = (await gql_raw(admin, NODE, id="not-a-global-id")).json()
    assert body["data"] == {"node": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


STOREFRONT_NODES = """
query($id: ID!) {
  node(id: $id) {
    id __typename
    ... on Reward { rewardId redeemable }
    ... on Redemption { redemptionId code state }
    ... on Order { externalId pointsEarned }
  }
}"""


async def _order_and_redemption(admin: httpx.AsyncClient, customer: str) -> tuple[dict, dict]:
    await enroll(admin, customer)
    recorded = await gql(
        admin,
        "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { order { id externalId pointsEarned } } }",
        input=order_input(unique("order"), customer, ("S", 1, "150.00")),
    )
    order = recorded["recordOrder"]["order"]
    redeemed = await gql(
        admin,
        "mutation($input: RedeemRewardInput!) { redeemReward(input: $input) {"
        " redemption { id redemptionId code state } errors { code } } }",
        input={"rewardId": "coffee", "customerExternalId": customer},
    )
    assert redeemed["redeemReward"]["errors"] == []
    return order, redeemed["redeemReward"]["redemption"]


async def test_orders_redemptions_and_rewards_are_nodes_fetched_again_by_their_ids(
    admin: httpx.AsyncClient, server: Server
):
    mine, theirs = unique("relay"), unique("relay")
    order, redemption = await _order_and_redemption(admin, mine)
    their_order, their_redemption = await _order_and_redemption(admin, theirs)
    token = (await gql(admin, TOKEN, id=mine))["issueCustomerToken"]["token"]

    async with server.client(token) as storefront:
        rewards = (await gql(storefront, "{ rewards { id rewardId redeemable } }"))["rewards"]
        coffee = next(r for r in rewards if r["rewardId"] == "coffee")
        fetched = {name: (await gql(storefront, STOREFRONT_NODES, id=node["id"]))["node"] for name, node in (
            ("order", order), ("redemption", redemption), ("reward", coffee),
            ("their order", their_order), ("their redemption", their_redemption),
        )}  # fmt: skip

    assert len({order["id"], redemption["id"], coffee["id"], their_order["id"]}) == 4
    assert fetched["order"] == {
        "id": order["id"],
        "__typename": "Order",
        "externalId": order["externalId"],
        "pointsEarned": 150,
    }
    assert fetched["redemption"] == {"__typename": "Redemption", **redemption}
    # The catalogue's view for the token's customer, so a cache holds one agreeing Reward.
    assert fetched["reward"] == {"__typename": "Reward", **coffee}
    assert fetched["their order"] is None and fetched["their redemption"] is None
    # An API key with customers:read sees every customer's.
    assert (await gql(admin, STOREFRONT_NODES, id=their_redemption["id"]))["node"]["code"] == their_redemption["code"]


async def test_a_reward_no_longer_in_the_rules_and_a_malformed_redemption_id_are_null(admin: httpx.AsyncClient):
    for type_name, key in (("Reward", "gone-reward"), ("Redemption", "not-a-number"), ("Order", "no-such-order")):
        global_id = base64.b64encode(f"{type_name}:{key}".encode()).decode()
        assert (await gql(admin, STOREFRONT_NODES, id=global_id))["node"] is None
