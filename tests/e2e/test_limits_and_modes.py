"""Every mode limits query depth, aliases and tokens; production hides the schema."""

from __future__ import annotations

import pytest
from strawberry.http.ides import get_graphql_ide_html

from api.graphiql import MOUNT, assets_dir, page_assets
from tests.conftest import ON_CI, make_settings, running_server
from tests.graphql_client import gql_raw


async def test_too_many_aliases_are_refused(admin):
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"
    body = (await gql_raw(admin, query)).json()
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_too_many_tokens_are_refused(admin):
    query = "{ " + " ".join("__typename" for _ in range(3000)) + " }"
    body = (await gql_raw(admin, query)).json()
    assert "token" in body["errors"][0]["message"].lower()


async def test_production_turns_off_graphiql_introspection_and_suggestions(server):
    settings = make_settings(server.database_url, LOYALTY_ENV="production")
    async with running_server(settings) as prod, prod.client() as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        introspection = (await gql_raw(client, "{ __schema { types { name } } }")).json()
        typo = (await gql_raw(client, '{ custmer(externalId: "x") { email } }')).json()
    assert page.status_code != 200 or "graphiql" not in page.text.lower()
    assert "introspection" in introspection["errors"][0]["message"].lower()
    assert "Did you mean" not in typo["errors"][0]["message"]


async def test_graphiql_is_served_in_development(server):
    async with server.client(None) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_health_names_the_rules_version(server):
    async with server.client(None) as client:
        body = (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert len(body["rulesVersion"]) >= 12


async def test_graphiql_loads_its_scripts_from_this_server(server):
    """scripts/setup fetched them; every one the page names is served, as the page hashed it."""
    directory = assets_dir()
    if not directory.is_dir():
        if ON_CI:
            pytest.fail(f"scripts/setup did not fetch GraphiQL's files into {directory}")
        pytest.skip("GraphiQL's files are not installed (run python -m api.graphiql)")
    async with server.client(None) as client:
        page = (await client.get("/graphql", headers={"Accept": "text/html"})).text
        assets = page_assets(get_graphql_ide_html("graphiql"))
        assert assets and "unpkg.com" not in page
        for asset in assets:
            assert f'"{MOUNT.lstrip("/")}/{asset.local_path}"' in page  # relative: see api.graphiql.local_page
            response = await client.get(f"{MOUNT}/{asset.local_path}")
            assert response.status_code == 200 and asset.matches(response.content)
