"""A running service watches its rules folder: a good edit goes live without a restart,
a bad one is refused and the version in force keeps awarding points."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from app.rules_admin import rules_version_sources
from tests.conftest import TEST_RULES_DIR, make_settings, running_server, unique
from tests.graphql_client import RECORD_ORDER, enroll, gql, order_input


async def _version(client) -> str:
    return (await client.get("/health")).json()["rulesVersion"]


async def _wait_for_version_change(client, old: str, seconds: float = 10.0) -> str:
    for _ in range(int(seconds / 0.1)):
        if (version := await _version(client)) != old:
            return version
        await asyncio.sleep(0.1)
    return old


async def test_the_watched_folder_goes_live_and_a_bad_edit_changes_nothing(uow, server, tmp_path: Path, caplog):
    rules = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, rules)
    program = rules / "program.yaml"
    settings = make_settings(server.database_url, LOYALTY_RULES_DIR=str(rules), LOYALTY_RULES_QUIET_MS="300")
    async with running_server(settings, watch_rules=True) as live, live.client() as admin:
        customer = unique("cust")
        await enroll(admin, customer)
        first = await _version(admin)

        program.write_text(program.read_text().replace("per_unit: 1}", "per_unit: 3}", 1))
        second = await _wait_for_version_change(admin, first)
        assert second != first
        assert await rules_version_sources(uow, second) is not None, "every activated version is stored"

        program.write_text(program.read_text().replace("threshold: 500", "threshold: lots", 1))
        await asyncio.sleep(1.5)  # well past the watcher's quiet period
        assert await _version(admin) == second
        assert any("program.yaml:" in record.getMessage() for record in caplog.records)

        data = await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, "10.00")))
        assert data["recordOrder"]["pointsEarned"] == 30
        assert data["recordOrder"]["order"]["rulesVersion"] == second


RELOAD = "mutation { reloadRules { version activated errors { message } } }"


async def test_a_version_put_in_force_by_one_service_reaches_another_on_the_same_database(server, tmp_path: Path):
    rules = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, rules)
    settings = make_settings(server.database_url, LOYALTY_RULES_DIR=str(rules), LOYALTY_RULES_WATCH="0")
    async with (
        running_server(settings, watch_rules=True) as first,
        running_server(settings, watch_rules=True) as second,
        first.client() as one,
        second.client() as other,
    ):
        before = await _version(other)
        program = rules / "program.yaml"
        program.write_text(program.read_text().replace("per_unit: 1}", "per_unit: 3}", 1))
        reloaded = (await gql(one, RELOAD))["reloadRules"]
        assert reloaded["activated"] is True
        assert await _version(other) == before, "the other service has not reloaded its folder"
        await asyncio.sleep(2)
        assert await _version(other) == reloaded["version"]
