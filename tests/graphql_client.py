"""A few lines of GraphQL client, as a store back end or storefront would write."""

from __future__ import annotations

from typing import Any

import httpx


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


async def gql_raw(client: httpx.AsyncClient, query: str, **variables: Any) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "variables": variables})


ENROLL = """
mutation($input: EnrollCustomerInput!) {
  enrollCustomer(input: $input) {
    customer { externalId email tier { name } points { available pending lifetimeEarned } }
    errors { field code message }
  }
}"""

RECORD_ORDER = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { externalId pointsEarned rulesVersion subtotal { amount currency } }
    pointsEarned replayed
    appliedRules { ruleId points }
    errors { field code message }
  }
}"""

RECORD_RETURN = """
mutation($input: RecordReturnInput!) {
  recordReturn(input: $input) {
    return { externalId orderExternalId returnedAmount { amount currency } pointsReversed }
    pointsReversed pointsUnrecovered replayed
    errors { field code message }
  }
}"""

CUSTOMER = """
query($id: String!, $first: Int = 20, $after: String) {
  customer(externalId: $id) {
    externalId email tier { name }
    points { available pending lifetimeEarned }
    tierProgress { nextTier { name } remaining }
    ledger(first: $first, after: $after) {
      edges { cursor node { kind bucket points reason ruleId rulesVersion orderExternalId createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

ADJUST = """
mutation($input: AdjustPointsInput!) {
  adjustPoints(input: $input) {
    points { available } errors { field code message }
  }
}"""

TOKEN = """
mutation($id: String!) {
  issueCustomerToken(customerExternalId: $id) { token expiresAt errors { field code message } }
}"""


async def enroll(client: httpx.AsyncClient, external_id: str, **extra: Any) -> dict[str, Any]:
    data = await gql(client, ENROLL, input={"externalId": external_id, "email": f"{external_id}@example.com", **extra})
    payload = data["enrollCustomer"]
    assert payload["errors"] == [], payload["errors"]
    return payload["customer"]


def order_input(external_id: str, customer: str, *lines: tuple[str, int, str], **extra: Any) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "customerExternalId": customer,
        "currency": extra.pop("currency", "EUR"),
        "lines": [{"sku": s, "quantity": q, "unitPrice": p} for s, q, p in lines],
        **extra,
    }
