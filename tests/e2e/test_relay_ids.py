"""Objects a client caches have a Relay global `id`, and `node(id:)` fetches them again:
Apollo Client and urql normalise their caches without hand-written keys."""

from __future__ import annotations

import httpx

from tests.conftest import Server, unique
from tests.graphql_client import ADJUST, TOKEN, enroll, gql, gql_raw

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
