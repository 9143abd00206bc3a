"""One log line per request, with its request id; /metrics after a few operations, read
with prometheus-client's own parser. Both GraphQL paths are seen: a JSON POST (the fast
path, api/json_posts.py) and a GET (strawberry's view)."""

from __future__ import annotations

import asyncio
import logging
import shutil

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import rules_admin
from tests.conftest import TEST_RULES_DIR, make_settings, running_server, unique
from tests.e2e.test_two_workers import serving_two_workers
from tests.graphql_client import CUSTOMER, RECORD_ORDER, enroll, gql, order_input

RULES_VERSION = "query Version { rulesVersion { version } }"


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "loyalty.request"]


def service_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the service logged (the test's own HTTP client logs too)."""
    return [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]


async def send_both_ways(client: httpx.AsyncClient, query: str, request_id: str) -> list[httpx.Response]:
    """The same query as a JSON POST and as a GET."""
    return [
        await client.post("/graphql", json={"query": query}, headers={"X-Request-ID": f"{request_id}-post"}),
        await client.get("/graphql", params={"query": query}, headers={"X-Request-ID": f"{request_id}-get"}),
    ]


async def test_each_request_is_one_log_line_with_its_request_id_on_both_paths(admin, caplog):
    with caplog.at_level(logging.INFO):
        responses = await send_both_ways(admin, RULES_VERSION, "req-1")

    assert [r.status_code for r in responses] == [200, 200]
    assert [r.headers["x-request-id"] for r in responses] == ["req-1-post", "req-1-get"]
    lines = request_lines(caplog)
    assert [(r.request_id, r.levelname) for r in lines] == [("req-1-post", "INFO"), ("req-1-get", "INFO")]
    for line in lines:
        assert (line.operation, line.operation_name, line.caller, line.outcome) == (
            "rulesVersion",
            "Version",
            "api_key",
            "ok",
        )
        assert line.duration_ms > 0
        assert line.exc_info is None


async def test_a_request_without_an_id_gets_one(admin, caplog):
    with caplog.at_level(logging.INFO):
        response = await admin.post("/graphql", json={"query": RULES_VERSION})
    (line,) = request_lines(caplog)
    assert len(response.headers["x-request-id"]) == 32
    assert line.request_id == response.headers["x-request-id"]


async def test_client_mistakes_are_one_warning_each_and_never_a_traceback(admin, server, caplog):
    customer = unique("cust")
    await enroll(admin, customer)
    async with server.client(None) as anonymous:
        with caplog.at_level(logging.INFO):
            # three permission errors and a bad cursor, as in the trial
            for _ in range(3):
                await anonymous.post("/graphql", json={"query": CUSTOMER, "variables": {"id": customer}})
            await admin.post("/graphql", json={"query": CUSTOMER, "variables": {"id": customer, "after": "nonsense"}})

    lines = service_lines(caplog)
    assert [(r.name, r.levelname) for r in lines] == [("loyalty.request", "WARNING")] * 4
    assert all(r.exc_info is None and r.outcome == "client_error" for r in lines)
    assert "'nonsense' is not a ledger cursor." in lines[-1].errors


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_an_internal_error_is_one_error_line_with_the_traceback_and_the_client_gets_the_request_id(
    admin, caplog, monkeypatch, method
):
    async def broken(uow, registry):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(rules_admin, "rules_version", broken)
    with caplog.at_level(logging.INFO):
        if method == "POST":
            response = await admin.post("/graphql", json={"query": RULES_VERSION}, headers={"X-Request-ID": "r-500"})
        else:
            response = await admin.get("/graphql", params={"query": RULES_VERSION}, headers={"X-Request-ID": "r-500"})

    body = response.json()
    assert body["extensions"] == {"requestId": "r-500"}
    (line,) = service_lines(caplog)
    assert (line.name, line.levelname, line.request_id) == ("loyalty.request", "ERROR", "r-500")
    assert line.outcome == "internal_error"
    assert line.exc_info is not None and "the disk is on fire" in str(line.exc_info[1])


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def metrics(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return scrape(response.text)


def delta(after: dict, before: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_count_requests_by_operation_and_outcome_on_both_paths_and_ledger_writes(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    before = await metrics(admin)

    await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, "10.00")))
    await send_both_ways(admin, RULES_VERSION, "m")
    async with server.client(None) as anonymous:
        await anonymous.post("/graphql", json={"query": CUSTOMER, "variables": {"id": customer}})

    after = await metrics(admin)
    assert delta(after, before, "loyalty_requests_total", operation="recordOrder", outcome="ok") == 1
    assert delta(after, before, "loyalty_requests_total", operation="rulesVersion", outcome="ok") == 2
    assert delta(after, before, "loyalty_requests_total", operation="customer", outcome="client_error") == 1
    assert delta(after, before, "loyalty_request_duration_seconds_count", operation="recordOrder") == 1
    assert delta(after, before, "loyalty_ledger_entries_written_total", source="order") >= 1
    version = (await gql(admin, RULES_VERSION))["rulesVersion"]["version"]
    assert after[("loyalty_rules_version_info", (("version", version),))] == 1


async def test_metrics_are_refused_to_networks_not_allowed(database_url):
    settings = make_settings(database_url, LOYALTY_METRICS_ALLOW="10.0.0.0/8")
    async with running_server(settings) as running, running.client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 403


async def test_a_refused_rules_reload_is_counted(database_url, tmp_path):
    rules_dir = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, rules_dir)
    settings = make_settings(database_url, LOYALTY_RULES_DIR=str(rules_dir), LOYALTY_RULES_WATCH="0")
    async with running_server(settings) as running, running.client() as admin:
        before = await metrics(admin)
        (rules_dir / "broken.yaml").write_text("rules:\n  - id: half-written\n    then: {points: {fixed: 5}\n")
        reloaded = await gql(admin, "mutation { reloadRules { activated } }")
        after = await metrics(admin)

    assert reloaded["reloadRules"]["activated"] is False
    assert delta(after, before, "loyalty_rules_reload_failures_total") == 1


async def test_with_two_workers_metrics_sum_what_every_worker_served(database_url, server, tmp_path):
    async with serving_two_workers(database_url, server.settings.rules_dir, tmp_path) as client:
        before = await metrics(client)
        # Many at once, so that both workers serve some.
        await asyncio.gather(*(client.post("/graphql", json={"query": RULES_VERSION}) for _ in range(40)))
        scrapes = [await metrics(client) for _ in range(4)]

    served = [
        sum(v for (name, _), v in scrape.items() if name == "loyalty_requests_total")
        - sum(v for (name, _), v in before.items() if name == "loyalty_requests_total")
        for scrape in scrapes
    ]
    assert served == [40] * 4
    pool = {labels: value for (name, labels), value in scrapes[-1].items() if name == "loyalty_db_pool_connections"}
    assert pool[(("state", "max"),)] == 40  # two pools of 20
