"""An order keeps what the rules saw of it: its lines with their tags, and its shipping
country; both are read back wherever the order is (recordOrder, a replay, node(id:))."""

from __future__ import annotations

import httpx

from tests.conftest import unique
from tests.graphql_client import enroll, gql, order_input

ORDER_FIELDS = """
  id externalId country
  lines { sku category quantity unitPrice { amount currency } tags }
"""

RECORD = f"""
mutation($input: RecordOrderInput!) {{
  recordOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} replayed errors {{ field code message }} }}
}}"""

NODE = f"""
query($id: ID!) {{ node(id: $id) {{ ... on Order {{ {ORDER_FIELDS} }} }} }}"""


async def record(admin: httpx.AsyncClient, request: dict) -> dict:
    payload = (await gql(admin, RECORD, input=request))["recordOrder"]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def test_an_orders_line_tags_and_country_are_stored_and_read_back(admin: httpx.AsyncClient):
    customer = unique("cust")
    await enroll(admin, customer)
    request = order_input(unique("order"), customer, country="fr")
    request["lines"] = [
        {"sku": "STOOL", "quantity": 2, "unitPrice": "15.5", "category": "furniture", "tags": ["wood", "Sale", "wood"]},
        {"sku": "LAMP", "quantity": 1, "unitPrice": "38.00"},
    ]

    first = await record(admin, request)
    replay = await record(admin, request)
    again = (await gql(admin, NODE, id=first["order"]["id"]))["node"]

    order = first["order"]
    assert order["country"] == "FR"
    assert order["lines"] == [
        {
            "sku": "STOOL",
            "category": "furniture",
            "quantity": 2,
            "unitPrice": {"amount": "15.50", "currency": "EUR"},
            "tags": ["Sale", "wood"],
        },
        {
            "sku": "LAMP",
            "category": None,
            "quantity": 1,
            "unitPrice": {"amount": "38.00", "currency": "EUR"},
            "tags": [],
        },
    ]
    assert replay["replayed"] is True and replay["order"] == order
    assert again == order


async def test_an_order_without_tags_or_country_has_none_and_its_prices_keep_their_currency(
    admin: httpx.AsyncClient,
):
    customer = unique("cust")
    await enroll(admin, customer)

    order = (await record(admin, order_input(unique("order"), customer, ("TOY", 3, "1500"), currency="JPY")))["order"]

    assert order["country"] is None
    assert order["lines"] == [
        {"sku": "TOY", "category": None, "quantity": 3, "unitPrice": {"amount": "1500", "currency": "JPY"}, "tags": []}
    ]
