"""Input the service refuses early, over real HTTP: bodies, query texts, directives,
bodies that are not a JSON object, and text no database can store."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from api.app import LoyaltyGraphQL
from persistence import repositories as repo
from tests.conftest import BOOTSTRAP_KEY, Server, make_settings, running_server, unique
from tests.graphql_client import ENROLL, RECORD_ORDER, enroll, gql, order_input

AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
JSON = {"Content-Type": "application/json"}
MEGABYTE = 1024 * 1024


def _post_body(query: str, padding: int = 0) -> bytes:
    return json.dumps({"query": query, "variables": {}, "padding": "x" * padding}).encode()


@pytest.mark.parametrize(
    "headers",
    [{**AUTH, **JSON}, {**AUTH, "Content-Type": "text/plain"}, JSON, {"Authorization": "Bearer wrong", **JSON}],
    ids=["fast path", "view", "no credentials", "wrong credentials"],
)
async def test_a_body_over_the_limit_is_answered_413_before_it_is_read(server: Server, headers: dict[str, str]):
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        response = await client.post("/graphql", headers=headers, content=_post_body("{ __typename }", 2 * MEGABYTE))
    assert response.status_code == 413
    assert str(MEGABYTE) in response.text


async def test_a_streamed_body_is_stopped_at_the_limit(server: Server):
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(64):  # 4 MB, without a Content-Length
            sent += 64 * 1024
            yield b" " * (64 * 1024)

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        try:
            response = await client.post("/graphql", headers={**AUTH, **JSON}, content=chunks())
        except httpx.HTTPError:  # the server may close before the client has sent it all
            return
    assert response.status_code == 413


async def test_a_body_within_the_limit_is_answered(admin: httpx.AsyncClient):
    response = await admin.post("/graphql", headers=JSON, content=_post_body("{ __typename }", MEGABYTE - 1000))
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_the_body_limit_is_a_setting(server: Server):
    settings = make_settings(server.database_url, LOYALTY_MAX_BODY_BYTES="2000")
    async with running_server(settings) as small, small.client() as client:
        within = await client.post("/graphql", json={"query": "{ __typename }"})
        over = await client.post("/graphql", headers=JSON, content=_post_body("{ __typename }", 2000))
    assert within.status_code == 200
    assert over.status_code == 413


async def test_wrong_credentials_are_refused_before_the_body_is_parsed(server: Server, monkeypatch):
    decoded = 0
    decode = LoyaltyGraphQL.decode_json

    def counted(self: LoyaltyGraphQL, data: str | bytes) -> object:
        nonlocal decoded
        decoded += 1
        return decode(self, data)

    monkeypatch.setattr(LoyaltyGraphQL, "decode_json", counted)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        response = await client.post(
            "/graphql", headers={"Authorization": "Bearer wrong", **JSON}, content=_post_body("{ __typename }")
        )
        assert response.status_code == 401
        assert decoded == 0
        answered = await client.post("/graphql", headers={**AUTH, **JSON}, content=_post_body("{ __typename }"))
    assert answered.status_code == 200 and decoded == 1


async def test_a_query_text_over_the_limit_is_refused_without_being_parsed(admin: httpx.AsyncClient):
    query = "{" + " " * (30 * MEGABYTE // 100) + "__typename }"  # 300 KB of whitespace
    started = time.perf_counter()
    response = await admin.post("/graphql", json={"query": query})
    elapsed = time.perf_counter() - started
    body = response.json()
    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [
        "The query is longer than 102400 bytes; send a shorter one."
    ]
    assert elapsed < 5  # parsing it took seconds; refusing it is a length check (generous: shared CI)


async def test_the_query_limit_is_a_setting(server: Server):
    settings = make_settings(server.database_url, LOYALTY_MAX_QUERY_BYTES="100")
    async with running_server(settings) as small, small.client() as client:
        short = await client.post("/graphql", json={"query": "{ __typename }"})
        long = await client.post("/graphql", json={"query": "{ __typename " + " " * 100 + "}"})
    assert short.json() == {"data": {"__typename": "Query"}}
    assert "longer than 100 bytes" in long.json()["errors"][0]["message"]


@pytest.mark.parametrize("env", ["test", "production"])
async def test_a_field_with_ten_directives_gets_one_error(server: Server, env: str):
    """graphql-cop's "Directive Overloading" check: ten errors for ten directives."""
    settings = make_settings(server.database_url, LOYALTY_ENV=env)
    async with running_server(settings) as running, running.client() as client:
        query = "query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }"
        body = (await client.post("/graphql", json={"query": query})).json()
    assert [error["message"] for error in body["errors"]] == [
        "A field may carry at most 4 directives; '__typename' carries 10."
    ]


async def test_an_answer_carries_at_most_max_errors_errors(admin: httpx.AsyncClient):
    query = "{ " + " ".join(f"unknown{i}" for i in range(60)) + " }"
    errors = (await admin.post("/graphql", json={"query": query})).json()["errors"]
    assert len(errors) == 21  # 20, and graphql-core's note that it stopped there
    assert "Too many validation errors" in errors[-1]["message"]


NOT_AN_OBJECT = [b'"hello"', b"null", b"123", b"true", b'{"query": "{ __typename }", "x": "\xff\xfe"}', b"\xff\xfe{}"]


@pytest.mark.parametrize("env", ["test", "production"])
@pytest.mark.parametrize("credentials", [AUTH, {}], ids=["credentials", "no credentials"])
async def test_a_body_that_is_not_a_json_object_in_utf8_is_a_400(server: Server, env: str, credentials: dict):
    settings = make_settings(server.database_url, LOYALTY_ENV=env)
    async with running_server(settings) as running, httpx.AsyncClient(base_url=running.url, timeout=30) as client:
        for content in NOT_AN_OBJECT:
            response = await client.post("/graphql", headers={**credentials, **JSON}, content=content)
            assert response.status_code == 400, (content, response.status_code, response.text)


async def _post(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    """As a client whose JSON escapes everything (so lone surrogates travel as \\udXXX)."""
    content = json.dumps({"query": query, "variables": variables}, ensure_ascii=True).encode()
    response = await client.post("/graphql", headers=JSON, content=content)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return next(iter(body["data"].values()))


BAD_TEXT = [
    ("sku", "SKU\x00-1", ["lines", "0", "sku"]),
    ("sku", "SKU-\ud800", ["lines", "0", "sku"]),
    ("sku", "S" * 129, ["lines", "0", "sku"]),
    ("category", "shoes\x00", ["lines", "0", "category"]),
    ("category", "c" * 129, ["lines", "0", "category"]),
    ("coupon", "CODE\udfff", ["couponCodes", "0"]),
    ("coupon", "C" * 65, ["couponCodes", "0"]),
]


@pytest.mark.parametrize(("where", "value", "field"), BAD_TEXT)
async def test_text_no_database_can_store_in_an_order_is_a_user_error(admin, where, value, field):
    customer = unique("text")
    await enroll(admin, customer)
    order = unique("order")
    line = {"sku": value if where == "sku" else "SKU-1", "quantity": 1, "unitPrice": "10.00"}
    if where == "category":
        line["category"] = value
    extra = {"couponCodes": [value]} if where == "coupon" else {}
    payload = await _post(admin, RECORD_ORDER, input={**order_input(order, customer), "lines": [line], **extra})
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", field)]
    assert await repo.find_order(order) is None


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"name": "Ada\x00"}, ["name"], "INVALID"),
        ({"name": "\ud83d"}, ["name"], "INVALID"),
        ({"name": "n" * 201}, ["name"], "INVALID"),
        ({"email": "a\x00b@example.com"}, ["email"], "INVALID"),
        ({"email": "a\udc00@example.com"}, ["email"], "INVALID"),
        ({"email": "a" * 64 + "@" + "b" * 190 + ".com"}, ["email"], "INVALID_EMAIL"),
        ({"tags": ["vip\x00"]}, ["tags", "0"], "INVALID"),
        ({"tags": ["t" * 65]}, ["tags", "0"], "INVALID"),
        ({"externalId": "{id}\n"}, ["externalId"], "INVALID_ID"),
    ],
)
async def test_text_no_database_can_store_in_an_enrollment_is_a_user_error(admin, extra, field, code):
    customer = unique("text")
    data = {"externalId": customer, "email": f"{customer}@example.com", **extra}
    data["externalId"] = data["externalId"].replace("{id}", customer)
    payload = await _post(admin, ENROLL, input=data)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await repo.customers_by_external_ids([customer]) == {}


async def test_an_order_id_ending_in_a_newline_is_refused(admin):
    customer = unique("text")
    await enroll(admin, customer)
    order = unique("order") + "\n"
    payload = await _post(admin, RECORD_ORDER, input=order_input(order, customer, ("S", 1, "1.00")))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_ID", ["externalId"])]


@pytest.mark.parametrize(
    "placed_at", ["0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00", "1969-12-31T23:00:00Z"]
)
async def test_an_order_placed_outside_a_sane_range_is_refused(admin, placed_at):
    customer = unique("moment")
    await enroll(admin, customer)
    order = unique("order")
    payload = await _post(admin, RECORD_ORDER, input=order_input(order, customer, ("S", 1, "1.00"), placedAt=placed_at))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", ["placedAt"])]
    assert await repo.find_order(order) is None


async def test_an_order_placed_in_the_range_is_recorded(admin):
    customer = unique("moment")
    await enroll(admin, customer)
    input = order_input(unique("order"), customer, ("S", 1, "1.00"), placedAt="2024-02-29T12:00:00+01:00")
    payload = (await gql(admin, RECORD_ORDER, input=input))["recordOrder"]
    assert payload["errors"] == []


async def test_a_refused_long_value_is_not_echoed_back_whole(admin):
    value = "x" * 10_000 + "!"
    payload = await _post(admin, ENROLL, input={"externalId": value, "email": "y" * 10_000})
    messages = " ".join(e["message"] for e in payload["errors"])
    assert {e["code"] for e in payload["errors"]} == {"INVALID_ID", "INVALID_EMAIL"}
    assert len(messages) < 500
    assert "10001 characters" in messages


async def test_an_event_type_ending_in_a_newline_is_refused(admin):
    from tests.e2e.test_record_event import RECORD_EVENT, review

    customer = unique("event")
    await enroll(admin, customer)
    payload = await _post(admin, RECORD_EVENT, input=review(customer, type="review.published\n"))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", ["type"])]
