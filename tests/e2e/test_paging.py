"""Connections answer a complete PageInfo, and `first` outside its bounds is an error
that says them (a page of 0 once answered hasNextPage with no cursor: an endless loop)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import unique
from tests.graphql_client import ADJUST, enroll, gql, gql_raw

LEDGER = """
query($id: String!, $first: Int!, $after: String) {
  customer(externalId: $id) {
    ledger(first: $first, after: $after) {
      edges { cursor }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}"""


async def test_pages_of_a_ledger_say_where_they_sit(admin: httpx.AsyncClient):
    customer = unique("paging")
    await enroll(admin, customer)
    for points in (5, 6, 7):
        data = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": points, "reason": "test"})
        assert data["adjustPoints"]["errors"] == []
    first = (await gql(admin, LEDGER, id=customer, first=2))["customer"]["ledger"]
    cursors = [edge["cursor"] for edge in first["edges"]]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": cursors[0],
        "endCursor": cursors[1],
    }
    last = (await gql(admin, LEDGER, id=customer, first=2, after=cursors[1]))["customer"]["ledger"]
    assert last["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": last["edges"][0]["cursor"],
        "endCursor": last["edges"][0]["cursor"],
    }


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_a_ledger_page_size_out_of_bounds_is_refused_with_the_bounds(admin: httpx.AsyncClient, first: int):
    customer = unique("paging")
    await enroll(admin, customer)
    body = (await gql_raw(admin, LEDGER, id=customer, first=first)).json()
    assert body["data"]["customer"] is None
    [error] = body["errors"]
    assert error["message"] == f"first must be between 1 and 100; it was {first}."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": ["first"]}


@pytest.mark.parametrize("first", [0, 501])
async def test_a_reward_events_page_size_out_of_bounds_is_refused_with_the_bounds(admin: httpx.AsyncClient, first: int):
    body = (await gql_raw(admin, "query($n: Int!) { rewardEvents(first: $n) { edges { cursor } } }", n=first)).json()
    assert [e["message"] for e in body["errors"]] == [f"first must be between 1 and 500; it was {first}."]
