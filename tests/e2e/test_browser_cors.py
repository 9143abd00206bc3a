"""A storefront on another origin calls the API from a browser (CORS), on every path."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api.cors import PREFLIGHT_MAX_AGE_SECONDS
from tests.conftest import BOOTSTRAP_KEY, Server, free_port, make_settings, running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# Three paths a storefront's calls take: a JSON POST (the fast path), a GET (strawberry's
# view) and wrong credentials (refused before either runs). Each sends Authorization, so the
# browser sends a preflight first.
PAGE = """<!doctype html><html><body><pre id="result">pending</pre><script>
const api = API_URL + "/graphql";
async function call(name, url, init) {
  try {
    const response = await fetch(url, init);
    return [name, response.status, await response.text()];
  } catch (error) {
    return [name, "failed", String(error)];
  }
}
(async () => {
  const query = "{ rulesVersion { version } }";
  const results = await Promise.all([
    call("post", api, {method: "POST", body: JSON.stringify({query}),
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + KEY}}),
    call("get", api + "?query=" + encodeURIComponent(query), {headers: {"Authorization": "Bearer " + KEY}}),
    call("wrong key", api, {method: "POST", body: JSON.stringify({query}),
      headers: {"Content-Type": "application/json", "Authorization": "Bearer wrong"}}),
  ]);
  document.getElementById("result").textContent = JSON.stringify(results);
})();
</script></body></html>"""


async def _page_server(api_url: str) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    page = PAGE.replace("API_URL", json.dumps(api_url)).replace("KEY", json.dumps(BOOTSTRAP_KEY))

    async def index(request: object) -> HTMLResponse:
        return HTMLResponse(page)

    # `localhost`, not the API's `127.0.0.1`: another host and another port, another origin.
    port = free_port()
    config = uvicorn.Config(Starlette(routes=[Route("/", index)]), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.02)
    return f"http://localhost:{port}", uv, task


async def _browser_results(page_url: str, tmp_path: Path) -> dict[str, tuple[object, str]]:
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # root in CI containers
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        # Waits for the page's network activity before dumping the page.
        "--virtual-time-budget=20000",
        "--dump-dom",
        page_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    dom = stdout.decode()
    start, end = dom.find('<pre id="result">'), dom.find("</pre>")
    text = dom[start + len('<pre id="result">') : end]
    assert text.startswith("["), (dom, stderr.decode()[-2000:])
    return {name: (status, body) for name, status, body in json.loads(text.replace("&quot;", '"'))}


@pytest.fixture
async def storefront_page(database_url: str) -> AsyncIterator[tuple[str, int]]:
    """A page's URL, and the port of the API it calls (started with CORS for that page)."""
    api_port = free_port()
    origin, uv, task = await _page_server(f"http://127.0.0.1:{api_port}")
    yield origin, api_port
    uv.should_exit = True
    await task


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (CI installs it)")
async def test_a_page_on_an_allowed_origin_calls_every_path_from_chromium(
    database_url: str, storefront_page: tuple[str, int], tmp_path: Path
):
    origin, api_port = storefront_page
    settings = make_settings(database_url, LOYALTY_CORS_ORIGINS=f"https://shop.example.com, {origin}")
    async with running_server(settings, port=api_port):
        results = await _browser_results(origin, tmp_path)
    assert results["post"][0] == 200 and json.loads(results["post"][1])["data"]["rulesVersion"]["version"]
    assert results["get"][0] == 200 and json.loads(results["get"][1])["data"]["rulesVersion"]["version"]
    # The page can read why it was refused, rather than a bare network error.
    assert results["wrong key"][0] == 401


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (CI installs it)")
async def test_chromium_blocks_a_page_on_an_origin_not_allowed(
    database_url: str, storefront_page: tuple[str, int], tmp_path: Path
):
    origin, api_port = storefront_page
    settings = make_settings(database_url, LOYALTY_CORS_ORIGINS="https://shop.example.com")
    async with running_server(settings, port=api_port):
        results = await _browser_results(origin, tmp_path)
    assert {name: status for name, (status, _) in results.items()} == {
        "post": "failed",
        "get": "failed",
        "wrong key": "failed",
    }


async def test_a_preflight_is_answered_and_cached_on_the_graphql_path(database_url: str):
    settings = make_settings(database_url, LOYALTY_CORS_ORIGINS="https://shop.example.com")
    async with running_server(settings) as api, httpx.AsyncClient(base_url=api.url) as client:
        response = await client.options(
            "/graphql",
            headers={
                "Origin": "https://shop.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert response.headers["access-control-max-age"] == str(PREFLIGHT_MAX_AGE_SECONDS)
    assert {"authorization", "content-type"} <= {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }


async def test_every_answer_to_an_allowed_origin_carries_its_cors_header(database_url: str):
    settings = make_settings(database_url, LOYALTY_CORS_ORIGINS="https://shop.example.com")
    origin = {"Origin": "https://shop.example.com"}
    auth = {"Authorization": f"Bearer {BOOTSTRAP_KEY}", **origin}
    query = "{ rulesVersion { version } }"
    async with running_server(settings) as api, httpx.AsyncClient(base_url=api.url) as client:
        answers = {
            "fast path": await client.post("/graphql", headers=auth, json={"query": query}),
            "view (GET)": await client.get("/graphql", headers=auth, params={"query": query}),
            "view (batch)": await client.post("/graphql", headers=auth, content=b"[]"),
            "wrong key": await client.post("/graphql", headers={**origin, "Authorization": "Bearer no"}, json={}),
            "too large": await client.post("/graphql", headers=auth, content=b" " * (api.settings.max_body_bytes + 1)),
        }
        other = await client.post(
            "/graphql", headers={**auth, "Origin": "https://evil.example.com"}, json={"query": query}
        )
    assert {name: r.headers.get("access-control-allow-origin") for name, r in answers.items()} == dict.fromkeys(
        answers, "https://shop.example.com"
    )
    assert answers["fast path"].status_code == 200
    assert "access-control-allow-origin" not in other.headers


async def test_without_allowed_origins_no_cross_origin_call_is_allowed(server: Server):
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.options(
            "/graphql",
            headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"},
        )
    assert "access-control-allow-origin" not in response.headers


def test_an_allowed_origin_must_be_an_origin(database_url: str):
    with pytest.raises(ValueError, match="scheme://host"):
        make_settings(database_url, LOYALTY_CORS_ORIGINS="https://shop.example.com/cart")
