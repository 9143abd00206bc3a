"""An admin reloads the rules folder: a valid edit is in force at once, a broken one never is."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.credentials import create_api_key
from persistence import repositories as repo
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.graphql_client import RECORD_ORDER, TOKEN, enroll, gql, gql_raw, order_input

RELOAD = """
mutation {
  reloadRules {
    version activated
    errors { field code message file line column ruleId }
  }
}"""

RULES_VERSION = """
{
  rulesVersion {
    version activatedAt
    tiers { name threshold multiplier }
    rewards { rewardId name kind pointsCost }
  }
}"""


@pytest.fixture
async def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    return folder


@pytest.fixture
async def editable(server: Server, rules_dir: Path) -> AsyncIterator[Server]:
    """A second server on the same database whose rules folder a test may edit."""
    settings = make_settings(server.database_url, LOYALTY_RULES_DIR=str(rules_dir))
    async with running_server(settings) as running:
        yield running


def edit(rules_dir: Path, old: str, new: str) -> None:
    path = rules_dir / "program.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


async def earn(client, customer: str, amount: str) -> dict:
    data = await gql(client, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, amount)))
    assert data["recordOrder"]["errors"] == []
    return data["recordOrder"]


async def test_a_valid_edit_is_activated_and_new_orders_earn_by_it(editable, rules_dir):
    async with editable.client() as admin:
        customer = unique("cust")
        await enroll(admin, customer)
        before = (await gql(admin, RULES_VERSION))["rulesVersion"]["version"]
        edit(rules_dir, "then: {points: {per_unit: 1}}", "then: {points: {per_unit: 2}}")

        reloaded = (await gql(admin, RELOAD))["reloadRules"]
        order = await earn(admin, customer, "10.00")

    assert reloaded["errors"] == []
    assert reloaded["activated"] is True
    assert reloaded["version"] != before
    assert order["pointsEarned"] == 20
    assert order["order"]["rulesVersion"] == reloaded["version"]
    stored = await repo.rules_version_sources(reloaded["version"])
    assert stored is not None and "per_unit: 2" in stored["program.yaml"]


async def test_reloading_an_unchanged_folder_activates_nothing(editable):
    async with editable.client() as admin:
        before = (await gql(admin, RULES_VERSION))["rulesVersion"]["version"]
        reloaded = (await gql(admin, RELOAD))["reloadRules"]
    assert reloaded == {"version": before, "activated": False, "errors": []}


async def test_a_broken_edit_is_refused_with_file_and_line_and_the_old_rules_keep_earning(editable, rules_dir):
    async with editable.client() as admin:
        customer = unique("cust")
        await enroll(admin, customer)
        before = (await gql(admin, RULES_VERSION))["rulesVersion"]["version"]
        edit(rules_dir, "then: {points: {per_unit: 1}}", "then: {points: {per_unit: lots}}")

        reloaded = (await gql(admin, RELOAD))["reloadRules"]
        order = await earn(admin, customer, "10.00")

    assert reloaded["activated"] is False
    assert reloaded["version"] == before
    [error] = reloaded["errors"]
    line = next(n for n, text in enumerate((rules_dir / "program.yaml").read_text().splitlines(), 1) if "lots" in text)
    assert (error["file"], error["line"], error["code"], error["field"]) == (
        "program.yaml",
        line,
        "RULES_INVALID",
        None,
    )
    assert error["message"].startswith(f"program.yaml:{line}:{error['column']}: ")
    assert error["ruleId"] == "base-earn"
    assert order["pointsEarned"] == 10
    assert order["order"]["rulesVersion"] == before


async def test_a_yaml_syntax_error_is_refused_and_the_version_in_force_stays(editable, rules_dir):
    async with editable.client() as admin:
        before = (await gql(admin, RULES_VERSION))["rulesVersion"]["version"]
        (rules_dir / "broken.yaml").write_text("rules:\n  - id: half-written\n    then: {points: {fixed: 5}\n")
        reloaded = (await gql(admin, RELOAD))["reloadRules"]
        after = (await gql(admin, RULES_VERSION))["rulesVersion"]["version"]

    assert reloaded["activated"] is False
    assert reloaded["version"] == after == before
    assert reloaded["errors"] and all(e["file"] == "broken.yaml" and e["line"] >= 1 for e in reloaded["errors"])


async def test_rules_version_names_the_tiers_and_rewards_in_force(admin, server):
    info = (await gql(admin, RULES_VERSION))["rulesVersion"]
    async with server.client(None) as anonymous:
        health = (await anonymous.get("/health")).json()

    assert info["version"] == health["rulesVersion"]
    assert info["activatedAt"] is not None
    assert [(t["name"], t["threshold"], t["multiplier"]) for t in info["tiers"]] == [
        ("Bronze", 0, "1"),
        ("Silver", 500, "1.5"),
        ("Gold", 2000, "2"),
    ]
    five_off = {"rewardId": "five-off", "name": "5 EUR off", "kind": "fixed_discount", "pointsCost": 500}
    assert info["rewards"][0] == five_off
    assert [r["rewardId"] for r in info["rewards"][1:]] == [
        "coffee",
        "half-off",
        "ship-free",
        "tote",
        "cashback-5",
        "monthly",
        "scarce",
        "future",
        "bygone",
    ]


async def test_rules_version_is_for_any_api_key_only(admin, server):
    key = await create_api_key(server.uow, "orders-only", ["orders:write"])
    async with server.client(key) as client:
        assert (await gql(client, RULES_VERSION))["rulesVersion"]["version"]
    async with server.client(None) as anonymous:
        body = (await gql_raw(anonymous, RULES_VERSION)).json()
    assert body["data"] is None and body["errors"]


async def test_only_a_key_with_rules_write_may_reload(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    token = (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]
    orders_key = await create_api_key(server.uow, "orders-only", ["orders:write"])
    rules_key = await create_api_key(server.uow, "rules-editor", ["rules:write"])

    refused = []
    for credential in (None, token, orders_key):
        async with server.client(credential) as client:
            refused.append((await gql_raw(client, RELOAD)).json())
    async with server.client(rules_key) as client:
        allowed = (await gql(client, RELOAD))["reloadRules"]

    assert all(body["data"] is None and "rules:write" in body["errors"][0]["message"] for body in refused)
    assert allowed["errors"] == [] and allowed["version"]
