"""No credentials, no data; a customer token sees its own customer and nothing else."""

from __future__ import annotations

from tests.conftest import unique
from tests.graphql_client import CUSTOMER, RECORD_ORDER, TOKEN, enroll, gql, gql_raw, order_input

ME = "{ me { externalId points { available } } }"


async def _token(admin, customer: str) -> str:
    data = await gql(admin, TOKEN, id=customer)
    assert data["issueCustomerToken"]["errors"] == []
    return data["issueCustomerToken"]["token"]


async def test_a_customer_token_reads_its_own_balance(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    await gql(admin, RECORD_ORDER, input=order_input(unique("o"), customer, ("S", 1, "12.00")))
    token = await _token(admin, customer)

    async with server.client(token) as storefront:
        me = (await gql(storefront, ME))["me"]
        own = (await gql(storefront, CUSTOMER, id=customer))["customer"]

    assert me == {"externalId": customer, "points": {"available": 12}}
    assert own["points"]["available"] == 12


async def test_a_customer_token_cannot_see_another_customer(admin, server):
    mine, theirs = unique("cust"), unique("cust")
    await enroll(admin, mine)
    await enroll(admin, theirs)
    async with server.client(await _token(admin, mine)) as storefront:
        body = (await gql_raw(storefront, CUSTOMER, id=theirs)).json()
    assert body["data"]["customer"] is None
    assert body["errors"][0]["message"] == "You may not see this customer."


async def test_a_customer_token_cannot_record_orders(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    async with server.client(await _token(admin, customer)) as storefront:
        request = order_input(unique("o"), customer, ("S", 1, "1.00"))
        body = (await gql_raw(storefront, RECORD_ORDER, input=request)).json()
    assert body["data"] is None
    assert "orders:write" in body["errors"][0]["message"]


async def test_no_credentials_no_data(server):
    async with server.client(None) as anonymous:
        body = (await gql_raw(anonymous, CUSTOMER, id="cust-ada")).json()
        me = (await gql_raw(anonymous, ME)).json()
    assert body["data"]["customer"] is None and body["errors"]
    assert me["data"]["me"] is None and me["errors"]


async def test_wrong_credentials_are_refused_outright(server):
    async with server.client("lk_nothing_real") as client:
        response = await gql_raw(client, ME)
    assert response.status_code == 401
    async with server.client("not.a.jwt") as client:
        assert (await gql_raw(client, ME)).status_code == 401


async def test_a_token_for_an_unknown_customer_is_not_issued(admin):
    data = await gql(admin, TOKEN, id="nobody-at-all")
    assert [e["code"] for e in data["issueCustomerToken"]["errors"]] == ["CUSTOMER_NOT_FOUND"]


async def test_an_api_key_with_a_narrow_scope_is_limited_to_it(server):
    from app.credentials import create_api_key

    key = await create_api_key(server.uow, "orders-only", ["orders:write"])
    async with server.client(key) as client:
        body = (await gql_raw(client, CUSTOMER, id="cust-ada")).json()
    assert body["data"]["customer"] is None
    assert body["errors"][0]["message"] == "You may not see this customer."


async def test_a_key_with_only_customers_write_cannot_issue_a_token(server):
    from app.credentials import create_api_key

    customer = unique("cust")
    async with server.client() as admin:
        await enroll(admin, customer)
    key = await create_api_key(server.uow, "writer", ["customers:write"])
    async with server.client(key) as client:
        body = (await gql_raw(client, TOKEN, id=customer)).json()
    assert body["data"] is None
    assert "customers:read and customers:write" in body["errors"][0]["message"]


async def test_a_key_that_may_read_and_write_customers_issues_tokens(server):
    from app.credentials import create_api_key

    customer = unique("cust")
    async with server.client() as admin:
        await enroll(admin, customer)
    key = await create_api_key(server.uow, "reader-writer", ["customers:read", "customers:write"])
    async with server.client(key) as client:
        assert await _token(client, customer)


async def test_the_database_refuses_to_update_or_delete_ledger_entries(admin):
    import pytest

    from persistence import sql
    from persistence.repositories import IntegrityError, find_customer, ledger_sums

    customer = unique("cust")
    await enroll(admin, customer)
    await gql(admin, RECORD_ORDER, input=order_input(unique("o"), customer, ("S", 1, "12.00")))
    row = await find_customer(customer)
    assert row is not None

    for statement in (
        "UPDATE ledger_entries SET points = 0 WHERE customer_id = $1",
        "DELETE FROM ledger_entries WHERE customer_id = $1",
    ):
        with pytest.raises(IntegrityError, match="append-only"):
            await sql.execute(statement, row.id)

    assert (await ledger_sums(customer)).available == 12
