"""Every top-level error carries `extensions.code`, on the JSON-POST path and the view's."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.schema import build_schema
from app.settings import Settings
from tests.conftest import Server, unique
from tests.graphql_client import TOKEN, enroll, gql

PATHS = ["post", "get"]


async def _codes(client: httpx.AsyncClient, path: str, query: str, **variables: Any) -> list[str]:
    if path == "post":
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    else:
        response = await client.get("/graphql", params={"query": query, "variables": json.dumps(variables)})
    assert response.status_code == 200, response.text
    return [error["extensions"]["code"] for error in response.json()["errors"]]


@pytest.mark.parametrize("path", PATHS)
async def test_a_field_needing_credentials_answers_unauthenticated_without_them(server: Server, path: str):
    async with server.client(token=None) as anonymous:
        assert await _codes(anonymous, path, '{ customer(externalId: "x") { email } }') == ["UNAUTHENTICATED"]
        assert await _codes(anonymous, path, "{ me { email } }") == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("path", PATHS)
async def test_credentials_that_do_not_allow_a_field_answer_forbidden(
    server: Server, admin: httpx.AsyncClient, path: str
):
    customer = unique("codes")
    await enroll(admin, customer)
    token = (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]
    async with server.client(token) as storefront:
        assert await _codes(storefront, path, '{ customer(externalId: "someone-else") { email } }') == ["FORBIDDEN"]
        assert await _codes(storefront, path, "{ rewardEvents { edges { cursor } } }") == ["FORBIDDEN"]
    assert await _codes(admin, path, "{ me { email } }") == ["FORBIDDEN"]


@pytest.mark.parametrize("path", PATHS)
async def test_a_query_that_does_not_parse_or_validate_says_so(admin: httpx.AsyncClient, path: str):
    assert await _codes(admin, path, "{ rulesVersion { version ") == ["GRAPHQL_PARSE_FAILED"]
    assert await _codes(admin, path, "{ rulesVersio { version } }") == ["GRAPHQL_VALIDATION_FAILED"]
    too_many_aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(20)) + " }"
    assert await _codes(admin, path, too_many_aliases) == ["GRAPHQL_VALIDATION_FAILED"]
    assert await _codes(admin, path, "{ " + "__typename " * 2100 + "}") == ["GRAPHQL_PARSE_FAILED"]  # tokens


@pytest.mark.parametrize("path", PATHS)
async def test_a_refused_variable_or_argument_is_bad_user_input(admin: httpx.AsyncClient, path: str):
    query = "query($first: Int!) { rewardEvents(first: $first) { edges { cursor } } }"
    assert await _codes(admin, path, query, first="many") == ["BAD_USER_INPUT"]
    assert await _codes(admin, path, query) == ["BAD_USER_INPUT"]  # missing
    assert await _codes(admin, path, query, first=0) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("env", ["development", "production"])
async def test_a_bug_is_an_internal_server_error_masked_or_not(env: str):
    # Without running services every resolver that reads them fails: a bug, as far as the
    # caller can tell.
    schema = build_schema(Settings.from_env({"LOYALTY_ENV": env}))
    result = await schema.execute("{ rulesVersion { version } }")
    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [{"code": "INTERNAL_SERVER_ERROR"}]
    assert (result.errors[0].message == "Unexpected error.") == (env == "production")
