"""JSON POSTs answered on the fast path read exactly as strawberry's view answers them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api import json_posts
from api.app import LoyaltyGraphQL
from tests.conftest import BOOTSTRAP_KEY, Server, unique

AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
JSON = {"Content-Type": "application/json"}

CUSTOMER = "query($id: String!) { customer(externalId: $id) { externalId email } }"


def _requests(customer: str) -> list[tuple[dict[str, str], bytes]]:
    def body(**data: object) -> bytes:
        return json.dumps(data).encode()

    return [
        ({**AUTH, **JSON}, body(query=CUSTOMER, variables={"id": customer})),
        ({**AUTH, **JSON}, body(query=CUSTOMER, variables={"id": "nobody-" + customer})),
        ({**AUTH, **JSON}, body(query=CUSTOMER, variables={})),  # a required variable missing
        ({**AUTH, **JSON}, body(query="{ customer(externalId: 1) { email } }")),  # invalid
        ({**AUTH, **JSON}, body(query="query A { __typename } query B { __typename }", operationName="B")),
        ({**AUTH, **JSON}, body(query="query A { __typename }", operationName="C")),  # no such operation
        ({**AUTH, **JSON}, body(query="{ __typename", variables=None)),  # syntax error
        ({**AUTH, **JSON}, body(query="")),  # no query
        ({**AUTH, **JSON}, body(query=5)),
        ({**AUTH, **JSON}, body(query=CUSTOMER, variables=[1])),
        ({**AUTH, **JSON}, b"{not json"),
        ({**AUTH, **JSON}, b"[]"),
        ({**AUTH, **JSON}, body(query="subscription { x }")),
        ({**JSON}, body(query=CUSTOMER, variables={"id": customer})),  # no credentials: no data
        ({"Authorization": "Bearer wrong", **JSON}, body(query=CUSTOMER, variables={"id": customer})),
        ({"Authorization": "Basic abc", **JSON}, body(query="{ __typename }")),
        ({**AUTH, "Content-Type": "application/json; charset=utf-8"}, body(query="{ __typename }")),
        ({**AUTH, "Content-Type": "text/plain"}, body(query="{ __typename }")),
        ({**AUTH}, body(query="{ __typename }")),  # no content type
    ]


async def _answers(server: Server, customer: str) -> list[tuple[int, str, object]]:
    answers = []
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for headers, content in _requests(customer):
            response = await client.post("/graphql", headers=headers, content=content)
            try:
                body: object = response.json()
            except ValueError:
                body = response.text
            answers.append((response.status_code, response.headers.get("content-type", ""), body))
    return answers


class ViewRuns:
    """Counts the requests that reach strawberry's view (patched on a started app: start-up
    refuses a view whose `run` is overridden)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        run = LoyaltyGraphQL.run

        async def counted(view: LoyaltyGraphQL, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await run(view, *args, **kwargs)

        monkeypatch.setattr(LoyaltyGraphQL, "run", counted)


async def test_the_fast_path_answers_as_the_view_does(
    server: Server, admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    customer = unique("json-posts")
    enrolled = await admin.post(
        "/graphql",
        json={
            "query": "mutation($i: EnrollCustomerInput!) { enrollCustomer(input: $i) { errors { code } } }",
            "variables": {"i": {"externalId": customer, "email": f"{customer}@example.com"}},
        },
    )
    assert enrolled.json()["data"]["enrollCustomer"]["errors"] == []
    viewed = ViewRuns(monkeypatch)
    fast = await _answers(server, customer)
    # Only what ends in an HTTP error after the body is read, or is not plain JSON, reached
    # the view: no query, a query that is not a string, variables that are not an object,
    # a body that is not JSON or not an object, an unknown operation name, a subscription
    # (not over POST), text/plain, no content type. Wrong credentials are refused before
    # the body is read, as the view refuses them.
    assert viewed.count == 9
    monkeypatch.setattr(json_posts, "_operation", lambda view, body: None)  # every request to the view
    view = await _answers(server, customer)
    assert fast == view
    assert fast[0] == (
        200,
        "application/json",
        {"data": {"customer": {"externalId": customer, "email": f"{customer}@example.com"}}},
    )
    assert {status for status, _, _ in fast} >= {200, 400, 401}


async def test_mutations_are_still_refused_over_get(server: Server):
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as client:
        response = await client.get("/graphql", params={"query": "mutation { reloadRules { version } }"})
    assert response.status_code == 400
