"""The storefront's reads: ledger pages, and a database out of reach answered as such."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from persistence.customers import Customers
from tests.conftest import TEST_DATABASE, unique
from tests.graphql_client import ADJUST, CUSTOMER, RECORD_ORDER, TOKEN, enroll, gql, gql_raw, order_input

ME_LEDGER = """
query($first: Int!, $after: String) {
  me { externalId points { available } ledger(first: $first, after: $after) {
    edges { cursor node { points orderExternalId } } pageInfo { hasNextPage endCursor } } }
}"""


async def _adjust(admin, customer: str, points: int) -> None:
    data = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": points, "reason": "test"})
    assert data["adjustPoints"]["errors"] == []


async def _pages(client, query: str, name: str, first: int, **variables) -> list[dict]:
    """Every page of a customer's ledger, following endCursor until hasNextPage is false."""
    pages, after = [], None
    while True:
        ledger = (await gql(client, query, first=first, after=after, **variables))[name]["ledger"]
        pages.append(ledger)
        if not ledger["pageInfo"]["hasNextPage"]:
            return pages
        after = ledger["pageInfo"]["endCursor"]


async def test_ledger_pages_walk_a_customers_entries_newest_first_each_once(admin):
    mine, other = unique("cust"), unique("cust")
    await enroll(admin, mine)
    await enroll(admin, other)
    for points in range(1, 8):  # interleaved with another customer's entries
        await _adjust(admin, mine, points)
        await _adjust(admin, other, 100 + points)

    pages = await _pages(admin, CUSTOMER, "customer", 3, id=mine)

    assert [[e["node"]["points"] for e in page["edges"]] for page in pages] == [[7, 6, 5], [4, 3, 2], [1]]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert pages[-1]["pageInfo"]["endCursor"] == pages[-1]["edges"][-1]["cursor"]


async def test_a_page_after_the_last_entry_is_empty(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    await _adjust(admin, customer, 5)
    [page] = await _pages(admin, CUSTOMER, "customer", 1, id=customer)

    after = await gql(admin, CUSTOMER, id=customer, first=1, after=page["pageInfo"]["endCursor"])

    assert after["customer"]["ledger"] == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def test_me_pages_its_own_ledger_with_each_entrys_order(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    orders = [unique("order") for _ in range(3)]
    for order in orders:
        await gql(admin, RECORD_ORDER, input=order_input(order, customer, ("S", 1, "10.00")))
    token = (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]

    async with server.client(token) as storefront:
        pages = await _pages(storefront, ME_LEDGER, "me", 2)

    assert [e["node"]["orderExternalId"] for page in pages for e in page["edges"]] == orders[::-1]


async def test_a_bad_cursor_is_refused_clearly(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    body = (await gql_raw(admin, CUSTOMER, id=customer, after="not-a-cursor")).json()
    assert "not a ledger cursor" in body["errors"][0]["message"]


@pytest.fixture
def refused_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's answer when every connection slot is taken."""

    async def refuse(self, external_id: str):
        raise asyncpg.TooManyConnectionsError("sorry, too many clients already")

    monkeypatch.setattr(Customers, "get", refuse)


@pytest.mark.usefixtures("refused_connections")
async def test_running_out_of_connections_is_a_503_that_says_so_and_is_logged(admin, caplog):
    with caplog.at_level(logging.ERROR, logger="loyalty.api"):
        response = await gql_raw(admin, CUSTOMER, id=unique("cust"))

    assert response.status_code == 503
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert "database" in error["message"]
    assert any("too many clients" in record.getMessage() for record in caplog.records)


@pytest.mark.usefixtures("refused_connections")
async def test_running_out_of_connections_is_a_503_over_get_too(admin):
    response = await admin.get("/graphql", params={"query": '{ customer(externalId: "x") { externalId } }'})

    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE"}


async def test_the_pool_is_sized_from_the_servers_max_connections(database_url):
    if TEST_DATABASE != "postgres":
        pytest.skip("PostgreSQL only")
    from persistence.connections import pool_size, sized_url

    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        limit = int(await conn.fetchval("SHOW max_connections"))
        reserved = int(await conn.fetchval("SHOW superuser_reserved_connections"))
    finally:
        await conn.close()

    url = await sized_url(database_url, workers=4)

    assert url.endswith(f"maxsize={pool_size(limit, reserved, 4)}")
    assert await sized_url(database_url + "?maxsize=3", workers=4) == database_url + "?maxsize=3"
