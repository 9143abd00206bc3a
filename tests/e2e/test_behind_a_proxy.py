"""Behind a reverse proxy: under a path prefix (`--root-path`), with the client's address
taken from X-Forwarded-For (`--proxy-headers`, `--forwarded-allow-ips`)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest

from api.graphiql import assets_dir
from tests.conftest import make_settings, running_server
from tests.e2e.test_json_posts import ViewRuns

PREFIX = "/loyalty"


@pytest.fixture(scope="module")
async def proxied(database_url):
    settings = make_settings(database_url, LOYALTY_ENV="development", LOYALTY_METRICS_ALLOW="203.0.113.0/24")
    async with running_server(settings, root_path=PREFIX, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as s:
        yield s


async def test_graphiql_under_a_path_prefix_loads_its_files_through_the_prefix(proxied):
    if not assets_dir().is_dir():
        pytest.skip("GraphiQL's files were not fetched at set-up (offline): the page uses unpkg.com")
    async with proxied.client(None) as browser:
        page = await browser.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page.text)
        assert sources
        for source in sources:
            # The browser resolves each against the page's public address...
            public = urljoin(f"https://shop.example{PREFIX}/graphql", source)
            assert public.startswith(f"https://shop.example{PREFIX}/graphiql/"), source
            # ...and the proxy passes it on without the prefix.
            asset = await browser.get(public.removeprefix(f"https://shop.example{PREFIX}"))
            assert asset.status_code == 200, public


async def test_metrics_judge_the_client_by_the_address_a_trusted_proxy_forwards(proxied):
    async with proxied.client(None) as client:
        allowed = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        refused = await client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"})
    assert (allowed.status_code, refused.status_code) == (200, 403)


async def test_under_a_path_prefix_a_json_post_takes_the_fast_path(proxied, monkeypatch):
    viewed = ViewRuns(monkeypatch)
    async with proxied.client() as client:
        response = await client.post("/graphql", json={"query": "{ rulesVersion { version } }"})
    assert response.status_code == 200 and response.json()["data"]["rulesVersion"]["version"]
    assert viewed.count == 0
