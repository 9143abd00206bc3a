"""A backtest before going live, and rules that can never fire (issue 13), on SQLite and
PostgreSQL: `loyalty rules simulate` and `loyalty rules check --against-db` as an operator
runs them on a recorded history, and the simulateRules query as an admin's tool calls it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.credentials import create_api_key
from tests.conftest import POSTGRES_URL, REPO_ROOT, TEST_DATABASE, TEST_RULES_DIR, unique
from tests.e2e.analytics_data import admin_statement
from tests.graphql_client import RECORD_ORDER, enroll, gql, gql_raw, order_input

NOW = datetime.now(UTC).replace(microsecond=0)


def days_ago(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


# c-1 reaches Silver (500 points) with its first order, so its second earns the Silver
# multiplier; an order of 200 days ago is outside the 90 days replayed.
HISTORY = f"""order_id,customer_id,email,placed_at,currency,sku,category,quantity,unit_price,shipping
o-0,c-2,two@example.com,{days_ago(200)},EUR,SKU-OLD,,1,10.00,
o-1,c-1,one@example.com,{days_ago(20)},EUR,SKU-A,cribs,1,600.00,5.00
o-2,c-1,one@example.com,{days_ago(10)},EUR,SKU-B,toys,1,100.00,
o-3,c-2,two@example.com,{days_ago(5)},EUR,SKU-A,cribs,1,40.00,
"""

NEW_RULES = """rules:
  - id: never-sold
    description: A campaign on a product the shop has never sold
    when: {cart: {any_line: {sku: NEVER-SOLD}}}
    then: {points: {fixed: 10}}
  - id: old-product
    description: A product sold only long ago
    when: {cart: {any_line: {sku: SKU-OLD}}}
    then: {points: {fixed: 10}}
  - id: cribs-bonus
    description: Cribs sell every week
    when: {cart: {any_line: {category: cribs}}}
    then: {points: {fixed: 5}}
"""

WRITTEN = ("orders", "order_lines", "ledger_entries", "rule_uses", "reward_events", "rules_versions", "customers")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A database of the module's own with the orders above imported and awarded under the
    test rules (which are in force), and the environment `loyalty` runs on it with."""
    folder = tmp_path_factory.mktemp("backtest")
    fresh = None
    if TEST_DATABASE == "sqlite":
        url = f"sqlite://{folder / 'history.db'}"
    else:
        assert POSTGRES_URL
        base, _, name = POSTGRES_URL.rpartition("/")
        fresh = f"{name.split('?')[0]}_backtest"
        asyncio.run(admin_statement(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{fresh}"'))
        asyncio.run(admin_statement(POSTGRES_URL, f'CREATE DATABASE "{fresh}"'))
        url = f"{base}/{fresh}"
    env = {**os.environ, "LOYALTY_DATABASE_URL": url, "LOYALTY_RULES_DIR": str(TEST_RULES_DIR)}
    assert loyalty(env, "migrate").returncode == 0
    csv = folder / "orders.csv"
    csv.write_text(HISTORY)
    imported = loyalty(env, "import", "orders", str(csv), "--award")
    assert imported.returncode == 0, imported.stderr
    try:
        yield env
    finally:
        if fresh:
            asyncio.run(admin_statement(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))


@pytest.fixture
def candidate(tmp_path: Path) -> Path:
    """The rules in force with base-earn doubled and three rules added."""
    folder = tmp_path / "candidate"
    shutil.copytree(TEST_RULES_DIR, folder)
    program = folder / "program.yaml"
    text = program.read_text()
    assert "then: {points: {per_unit: 1}}" in text
    program.write_text(text.replace("then: {points: {per_unit: 1}}", "then: {points: {per_unit: 2}}", 1))
    (folder / "new.yaml").write_text(NEW_RULES)
    return folder


def loyalty(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def counts(url: str) -> dict[str, int]:
    statements = {table: f"SELECT COUNT(*) FROM {table}" for table in WRITTEN}
    if url.startswith("sqlite://"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite://"))) as conn:
            return {table: conn.execute(s).fetchone()[0] for table, s in statements.items()}

    async def fetch() -> dict[str, int]:
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            return {table: await conn.fetchval(s) for table, s in statements.items()}
        finally:
            await conn.close()

    return asyncio.run(fetch())


def by_rule(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["ruleId"]: rule for rule in report["rules"]}


def test_a_candidate_that_doubles_a_rule_is_shown_doubled_and_nothing_is_written(history, candidate):
    before = counts(history["LOYALTY_DATABASE_URL"])

    # Two processes evaluate the pages, as a long period would have them.
    done = loyalty(history, "rules", "simulate", str(candidate), "--since", "90d", "--json", "--workers", "2")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["orders"], report["events"], report["currency"]) == (3, 0, "EUR")
    rules = by_rule(report)
    base = rules["base-earn"]
    assert base["inForce"] == {"fired": 3, "points": 740, "discounts": "0.00"}
    assert base["candidate"] == {"fired": 3, "points": 1480, "discounts": "0.00"}
    assert (base["firedChange"], base["pointsChange"]) == (0, 740)
    # The tier as of each order: c-1 was Bronze for its first order and Silver for its second.
    silver = rules["silver-multiplier"]
    assert (silver["inForce"]["fired"], silver["inForce"]["points"]) == (1, 50)
    assert (silver["candidate"]["fired"], silver["candidate"]["points"]) == (1, 100)
    assert rules["cribs-bonus"]["inForce"] is None
    assert rules["cribs-bonus"]["candidate"] == {"fired": 2, "points": 10, "discounts": "0.00"}
    assert rules["crib-mattress"]["firedChange"] == 0
    assert report["total"]["pointsChange"] == 740 + 50 + 10
    assert any("without usage" in note for note in report["notes"])
    assert counts(history["LOYALTY_DATABASE_URL"]) == before


def test_the_table_says_the_same_for_people(history, candidate):
    done = loyalty(history, "rules", "simulate", str(candidate), "--since", "90d")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "3 orders and 0 events" in lines[0]
    [base] = [line for line in lines if line.startswith("base-earn ")]
    assert base.split() == ["base-earn", "3", "3", "=", "740", "1,480", "+740", "0.00", "0.00", "="]
    [added] = [line for line in lines if line.startswith("cribs-bonus (new)")]
    assert added.split()[2:5] == ["0", "2", "+2"]
    assert any("Limits and budgets are evaluated without usage" in line for line in lines)


def test_a_candidate_that_does_not_load_is_refused_by_file_and_line(history, candidate):
    (candidate / "new.yaml").write_text("rules:\n  - id: broken\n    then: {points: {fixed: lots}}\n")

    done = loyalty(history, "rules", "simulate", str(candidate))

    assert done.returncode == 1
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"{candidate / 'new.yaml'}:3:"), done.stderr
    assert done.stdout == ""


def test_rules_naming_what_was_never_recorded_are_reported(history, candidate):
    done = loyalty(history, "rules", "check", str(candidate), "--against-db", "--days", "90")

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "new.yaml:2:5: rule 'never-sold' can never fire: when.cart.any_line.sku: sku NEVER-SOLD never seen" in out
    # Sold, but 200 days ago.
    assert "rule 'old-product' can never fire: when.cart.any_line.sku: sku SKU-OLD never seen" in out
    assert "rule 'gold-multiplier' can never fire: when.customer.tier: tier Gold never seen" in out
    assert "rule 'review-bonus' can never fire: on: event type review.published never seen" in out
    assert "rule 'welcome10' can never fire: when.order.coupon: coupon WELCOME10 never seen" in out
    for reachable in ("cribs-bonus", "crib-mattress", "silver-multiplier", "base-earn"):
        assert f"'{reachable}'" not in out

    longer = loyalty(history, "rules", "check", str(candidate), "--against-db", "--days", "365")
    assert "'old-product'" not in longer.stdout


# --- simulateRules, over HTTP on the shared server ---------------------------------------

SIMULATE = """
query($input: SimulateRulesInput!) {
  simulateRules(input: $input) {
    simulation {
      since until orders events inForceVersion candidateVersion
      rules { ruleId inForce { fired points discounts { amount currency } }
              candidate { fired points discounts { amount currency } } firedChange pointsChange }
      total { pointsChange }
      notes
    }
    errors { field code message }
    ruleErrors { code message file line column ruleId }
  }
}"""

RECORD_EVENT = """
mutation($input: RecordEventInput!) {
  recordEvent(input: $input) { pointsEarned errors { code message } }
}"""

# Far from every other test's orders, so the period holds this test's alone.
START = datetime(2045, 3, 1, 10, 0, tzinfo=UTC)


def files(**changes: tuple[str, str]) -> list[dict[str, str]]:
    """The test rules as a client sends them, with `file=(old, new)` edits."""
    sent = []
    for path in sorted(TEST_RULES_DIR.glob("*.yaml")):
        content = path.read_text()
        if path.stem in changes:
            old, new = changes[path.stem]
            assert old in content
            content = content.replace(old, new, 1)
        sent.append({"path": path.name, "content": content})
    return sent


def period(days: int = 3) -> dict[str, str]:
    return {"since": START.isoformat(), "until": (START + timedelta(days=days)).isoformat()}


async def test_simulate_rules_replays_orders_and_events_for_an_admin(admin, moved_clock):
    customer = unique("backtest")
    moved_clock.move_to(START)
    await enroll(admin, customer, attributes={"new_parent": True})
    for amount in ("80.00", "20.00"):
        moved_clock.advance(timedelta(hours=5))
        recorded = await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, amount)))
        assert recorded["recordOrder"]["errors"] == []
    review = {"externalId": unique("review"), "customerExternalId": customer, "type": "review.published"}
    event = await gql(admin, RECORD_EVENT, input={**review, "attributes": {"rating": 5}})
    assert event["recordEvent"]["pointsEarned"] == 50

    doubled = files(cart=("then: {points: {fixed: 50}}", "then: {points: {fixed: 100}}"))
    answer = (await gql(admin, SIMULATE, input={"files": doubled, **period()}))["simulateRules"]

    assert answer["errors"] == [] and answer["ruleErrors"] == []
    simulation = answer["simulation"]
    assert (simulation["orders"], simulation["events"]) == (2, 1)
    assert simulation["inForceVersion"] != simulation["candidateVersion"]
    rules = by_rule(simulation)
    assert rules["review-bonus"]["inForce"]["points"] == 50
    assert rules["review-bonus"]["candidate"]["points"] == 100
    assert rules["review-bonus"]["pointsChange"] == 50
    assert rules["base-earn"]["inForce"] == rules["base-earn"]["candidate"]
    assert rules["base-earn"]["inForce"]["points"] == 100
    assert rules["free-shipping-from-50"]["inForce"]["discounts"] == {"amount": "0.00", "currency": "EUR"}
    # The customer's attributes reach the rules: new parents earn 40 points an order.
    assert rules["new-parent-bonus"]["inForce"]["fired"] == 2
    assert simulation["total"]["pointsChange"] == 50


async def test_simulate_rules_says_where_a_candidate_is_broken(admin):
    broken = files(cart=("then: {points: {fixed: 50}}", "then: {points: {fixed: many}}"))

    answer = (await gql(admin, SIMULATE, input={"files": broken, **period()}))["simulateRules"]

    assert answer["simulation"] is None
    [error] = answer["ruleErrors"]
    assert (error["code"], error["file"], error["ruleId"]) == ("RULES_INVALID", "cart.yaml", "review-bonus")
    assert error["message"].startswith(f"cart.yaml:{error['line']}:{error['column']}:")


async def test_simulate_rules_refuses_a_bad_period_and_bad_paths(admin):
    backwards = {"since": period()["until"], "until": period()["since"]}
    answer = (await gql(admin, SIMULATE, input={"files": files(), **backwards}))["simulateRules"]
    assert answer["simulation"] is None
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [(["since"], "INVALID")]

    outside = [{"path": "../program.yaml", "content": "rules: []"}]
    answer = (await gql(admin, SIMULATE, input={"files": outside, **period()}))["simulateRules"]
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [(["files", "0", "path"], "INVALID")]


async def test_simulate_rules_is_for_admin_keys_only(server):
    key = await create_api_key(server.uow, "rules-editor", ["rules:write", "metrics:read"])
    async with server.client(key) as client:
        body = (await gql_raw(client, SIMULATE, input={"files": files(), **period()})).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
