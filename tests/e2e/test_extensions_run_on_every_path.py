"""Every schema extension runs on every request, whichever path serves it: the JSON
POSTs answered without the view, and the view (GET, other content types)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from strawberry.extensions import SchemaExtension

from api import json_posts
from api.app import LoyaltyGraphQL
from tests.conftest import BOOTSTRAP_KEY, Server, make_settings, running_server
from tests.e2e.test_json_posts import ViewRuns

AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
QUERY = "query Version { rulesVersion { version } }"


class Counting(SchemaExtension):
    """Counts every hook strawberry runs, and reports the count in the answer."""

    calls: Counter[str] = Counter()

    def on_operation(self) -> Iterator[None]:
        self.calls["on_operation"] += 1
        yield

    def on_parse(self) -> Iterator[None]:
        self.calls["on_parse"] += 1
        yield

    def on_validate(self) -> Iterator[None]:
        self.calls["on_validate"] += 1
        yield

    def on_execute(self) -> Iterator[None]:
        self.calls["on_execute"] += 1
        yield

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls["resolve"] += 1
        return _next(root, info, *args, **kwargs)

    def get_results(self) -> dict[str, Any]:
        self.calls["get_results"] += 1
        return {"counted": self.calls["on_operation"]}


async def _send(client: httpx.AsyncClient, path: str) -> httpx.Response:
    if path == "get":
        return await client.get("/graphql", params={"query": QUERY})
    return await client.post("/graphql", json={"query": QUERY})


@pytest.mark.parametrize("env", ["test", "production"])
@pytest.mark.parametrize("path", ["json post", "get", "view post"])
async def test_a_counting_extension_runs_every_hook_on_every_request(
    server: Server, monkeypatch: pytest.MonkeyPatch, env: str, path: str
):
    Counting.calls = Counter()
    settings = make_settings(server.database_url, LOYALTY_ENV=env)
    async with running_server(settings, extensions=[Counting]) as running, running.client() as client:
        viewed = ViewRuns(monkeypatch)
        if path == "view post":
            monkeypatch.setattr(json_posts, "_operation", lambda view, body: None)  # every POST to the view
        answers = [await _send(client, path) for _ in range(3)]
        monkeypatch.undo()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["extensions"] for a in answers] == [{"counted": 1}, {"counted": 2}, {"counted": 3}]
    assert answers[0].json()["data"]["rulesVersion"]["version"]
    assert viewed.count == (0 if path == "json post" else 3)
    # rulesVersion and version: two fields resolved per request.
    assert Counting.calls == {
        "on_operation": 3,
        "on_parse": 3,
        "on_validate": 3,
        "on_execute": 3,
        "resolve": 6,
        "get_results": 3,
    }


@pytest.mark.parametrize("path", ["json post", "get"])
async def test_the_views_error_hook_runs_on_both_paths(server: Server, monkeypatch: pytest.MonkeyPatch, path: str):
    """`_handle_errors` is strawberry's hook for reporting errors (Sentry's integration
    overrides it): this fails if an upgrade renames it, or the fast path stops calling it."""
    handled: list[str] = []

    def handle(self: LoyaltyGraphQL, errors: list, response_data: dict) -> None:
        handled.extend(error.message for error in errors)

    monkeypatch.setattr(LoyaltyGraphQL, "_handle_errors", handle)
    async with server.client() as client:
        if path == "json post":
            await client.post("/graphql", json={"query": "{ nopeZzz }"})
        else:
            await client.get("/graphql", params={"query": "{ nopeZzz }"})
    assert handled == ["Cannot query field 'nopeZzz' on type 'Query'."]
