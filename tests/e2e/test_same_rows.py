"""SQLite and PostgreSQL write the same rows for the same requests.

Each database has its own way of writing an order (one guarded statement on PostgreSQL,
several on SQLite), built from the same table descriptions and row builders. This drives
one sequence over GraphQL, as a store back end would, against two servers side by side
(one on a fresh SQLite file, one on the PostgreSQL test database), each request at the
same pinned instant on both: enrolments (one referred, one with a birthday), orders with
a replay, limited and budgeted coupon rules, a foreign currency and a redemption's code,
returns, engagement events, adjustments with a replay, and `loyalty jobs run` at two later
times (as the command runs them). Then it reads every row written to every table the sequence touches, ids replaced
by what they refer to, and asserts that the two databases hold the same rows.

It runs in the PostgreSQL pass (scripts/test), whose database other tests share: rows are
told apart by this run's suffix, the program's budget rule is renamed to be this run's
own, and the sequence lives in 2019, before any other test's dates, so that the jobs,
which act on the whole database, find nothing due of anyone else's.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from subprocess import PIPE, STDOUT
from typing import Any

import pytest

from app.clock import clock
from app.scheduler import run_jobs
from persistence import sql
from persistence.database import close_database, open_database
from persistence.statements import Statement
from persistence.tables import TABLES
from persistence.unit_of_work import UnitOfWork
from rules import load_program
from tests.conftest import (
    POSTGRES_URL,
    REPO_ROOT,
    TEST_DATABASE,
    TEST_RULES_DIR,
    Server,
    make_settings,
    running_server,
    serve_env,
)
from tests.graphql_client import gql

START = datetime(2019, 1, 14, 9, 30, 15, 123456, tzinfo=UTC)
FIRST_JOBS = START + timedelta(days=15)
LAST_JOBS = START + timedelta(days=61)

pytestmark = pytest.mark.skipif(
    TEST_DATABASE != "postgres", reason="runs in the PostgreSQL pass, beside a SQLite file of its own"
)


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def rules(tmp_path: Path, suffix: str) -> Path:
    """The test rules, with points pending 14 days and expiring 30 days after, and the
    budget rule renamed so that its budget row is this run's alone."""
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    program, limits = folder / "program.yaml", folder / "limits.yaml"
    text = program.read_text()
    assert "  currency: EUR\n" in text
    program.write_text(
        text.replace("  currency: EUR\n", "  currency: EUR\n  points: {pending_days: 14, expires_in_days: 30}\n", 1)
    )
    text = limits.read_text()
    assert "  - id: campaign\n" in text
    limits.write_text(text.replace("  - id: campaign\n", f"  - id: campaign-{suffix}\n"))
    return folder


async def migrate(database_url: str, rules: Path) -> None:
    """`loyalty migrate` in a process of its own: Tortoise, which migrates, keeps per-dialect
    state for the process, and this one has migrated PostgreSQL already."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "migrate",
        cwd=REPO_ROOT,
        env=serve_env(database_url, rules),
        stdout=PIPE,
        stderr=STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


@pytest.fixture
async def servers(tmp_path: Path, rules: Path, server: Server) -> AsyncIterator[dict[str, Server]]:
    sqlite_url = f"sqlite://{tmp_path / 'same-rows.db'}"
    await migrate(sqlite_url, rules)
    async with (
        running_server(make_settings(sqlite_url, LOYALTY_RULES_DIR=str(rules))) as on_sqlite,
        running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(rules))) as on_postgres,
    ):
        yield {"sqlite": on_sqlite, "postgres": on_postgres}


class Sequence:
    """Sends each request to both servers at the same pinned instant; they must answer alike."""

    def __init__(self, servers: dict[str, Server], rules: Path, monkeypatch: pytest.MonkeyPatch):
        self.servers = servers
        self.rules = rules
        self.now = START
        monkeypatch.setattr(clock, "now", lambda: self.now)

    def at(self, moment: datetime) -> None:
        self.now = moment

    async def send(self, query: str, pick: Callable[[dict], Any] = lambda data: data, **variables: Any) -> dict:
        self.now += timedelta(seconds=1)
        answers = {}
        for name, server in self.servers.items():
            async with server.client() as client:
                answers[name] = pick(await gql(client, query, **variables))
        return answers

    async def same(self, query: str, **variables: Any) -> Any:
        answers = await self.send(query, **variables)
        assert answers["sqlite"] == answers["postgres"], answers
        [data] = answers["sqlite"].values()
        assert data.get("errors", []) == [], data
        return data

    async def jobs(self, at: datetime) -> None:
        """`loyalty jobs run --at`, in this process: the jobs' own clock reads (the birthday
        event's created_at) are pinned too."""
        self.at(at)
        program = load_program(self.rules)
        for name, server in self.servers.items():
            database = await open_database(server.database_url)
            try:
                outcomes = await run_jobs(UnitOfWork(database), None, at, program)
            finally:
                await close_database(database)
            # A job held by another runner (or failed) would leave the two databases apart.
            assert {outcome.status for outcome in outcomes} == {"succeeded"}, (name, outcomes)


ENROLL = """mutation($input: EnrollCustomerInput!) {
  enrollCustomer(input: $input) { customer { externalId tier { name } referred } errors { code } } }"""
REFERRAL_CODE = "query($id: String!) { customer(externalId: $id) { referralCode } }"
ORDER = """mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) { pointsEarned replayed appliedRules { ruleId points } errors { code } } }"""
RETURN = """mutation($input: RecordReturnInput!) {
  recordReturn(input: $input) { pointsReversed pointsUnrecovered replayed errors { code } } }"""
EVENT = """mutation($input: RecordEventInput!) {
  recordEvent(input: $input) { pointsEarned replayed appliedRules { ruleId points } errors { code } } }"""
ADJUST = """mutation($input: AdjustPointsInput!) {
  adjustPoints(input: $input) { points { available pending lifetimeEarned } replayed errors { code } } }"""
REDEEM = """mutation($input: RedeemRewardInput!) {
  redeemReward(input: $input) { redemption { code pointsSpent state } errors { code } } }"""


async def record_the_sequence(run: Sequence, suffix: str) -> None:
    ada, bob, cy = (f"{name}-{suffix}" for name in ("ada", "bob", "cy"))

    def order(n: int, who: str, *lines: tuple[str, int, str], **extra: Any) -> dict:
        items = [{"sku": sku, "quantity": qty, "unitPrice": price, "category": "toys"} for sku, qty, price in lines]
        return {"externalId": f"o{n}-{suffix}", "customerExternalId": who, "currency": "EUR", "lines": items, **extra}

    await run.same(ENROLL, input={"externalId": ada, "email": f"{ada}@example.com", "tags": ["vip"]})
    codes = await run.send(REFERRAL_CODE, lambda data: data["customer"]["referralCode"], id=ada)
    run.now += timedelta(seconds=1)
    for name, server in run.servers.items():  # each database gave ada a code of its own
        async with server.client() as client:
            data = await gql(
                client, ENROLL, input={"externalId": bob, "email": "b@example.com", "referralCode": codes[name]}
            )
        assert data["enrollCustomer"]["errors"] == [] and data["enrollCustomer"]["customer"]["referred"]
    birthday = FIRST_JOBS.date().replace(year=1990).isoformat()
    await run.same(ENROLL, input={"externalId": cy, "email": f"{cy}@example.com", "birthday": birthday})

    first = order(1, ada, ("SKU-1", 2, "19.99"), ("SKU-2", 1, "5.50"), shippingAmount="4.90")
    assert (await run.same(ORDER, input=first))["replayed"] is False
    assert (await run.same(ORDER, input=first))["replayed"] is True
    await run.same(ORDER, input=order(2, ada, ("SKU-3", 1, "40.00"), couponCodes=["ONCE", "CAMPAIGN"]))
    await run.same(ORDER, input=order(3, bob, ("SKU-3", 3, "12.00"), couponCodes=["CAMPAIGN", "GIFT"]))
    budget_spent = await run.same(ORDER, input=order(4, bob, ("SKU-4", 1, "7.25"), couponCodes=["CAMPAIGN"]))
    assert budget_spent["appliedRules"] == [{"ruleId": "base-earn", "points": 7}]
    await run.same(ORDER, input=order(5, bob, ("SKU-5", 2, "10.99"), currency="USD"))
    placed = (START - timedelta(days=3)).isoformat()
    await run.same(ORDER, input=order(6, cy, ("SKU-6", 1, "15.00"), placedAt=placed))

    back = {"externalId": f"r1-{suffix}", "orderExternalId": f"o1-{suffix}", "lines": [{"sku": "SKU-1", "quantity": 1}]}
    await run.same(RETURN, input=back)
    assert (await run.same(RETURN, input=back))["replayed"] is True
    whole = {
        "externalId": f"r2-{suffix}",
        "orderExternalId": f"o3-{suffix}",
        "lines": [{"sku": "SKU-3", "quantity": 3}],
    }
    await run.same(RETURN, input=whole)

    review = {"externalId": f"e1-{suffix}", "customerExternalId": ada, "type": "review.published"}
    await run.same(EVENT, input={**review, "attributes": {"rating": 5}})
    assert (await run.same(EVENT, input={**review, "attributes": {"rating": 5}}))["replayed"] is True
    await run.same(EVENT, input={"externalId": f"e2-{suffix}", "customerExternalId": bob, "type": "social.followed"})
    await run.same(EVENT, input={"externalId": f"e3-{suffix}", "customerExternalId": bob, "type": "social.followed"})

    goodwill = {"customerExternalId": bob, "points": 30, "reason": "Goodwill", "idempotencyKey": f"k1-{suffix}"}
    await run.same(ADJUST, input=goodwill)
    assert (await run.same(ADJUST, input=goodwill))["replayed"] is True

    # Pending points released, the referral completed, cy's birthday wished.
    await run.jobs(FIRST_JOBS)

    run.at(FIRST_JOBS + timedelta(hours=1))
    await run.same(ADJUST, input={"customerExternalId": ada, "points": -5, "reason": "Correction"})
    # A redemption used by an order (its code stands in the order's coupons), another left to expire.
    codes = await run.send(REDEEM, lambda data: data["redeemReward"]["redemption"]["code"],
                           input={"rewardId": "coffee", "customerExternalId": ada})  # fmt: skip
    await run.send(REDEEM, input={"rewardId": "half-off", "customerExternalId": ada})
    run.now += timedelta(seconds=1)
    for name, server in run.servers.items():
        async with server.client() as client:
            spent = order(7, ada, ("SKU-7", 1, "35.00"), couponCodes=[codes[name]])
            assert (await gql(client, ORDER, input=spent))["recordOrder"]["errors"] == []

    # The last order's points released, unspent points expired, the unused redemption refunded.
    await run.jobs(LAST_JOBS)


# Every table the sequence writes, and how its rows are found (this run's suffix) and told
# apart without ids: each id column is dropped, and what it refers to selected instead.
QUERIES = {
    "customers": "SELECT c.*, r.external_id AS referrer_ FROM customers c"
    " LEFT JOIN customers r ON r.id = c.referred_by_id WHERE c.external_id LIKE :like",
    "orders": "SELECT o.*, c.external_id AS customer_ FROM orders o"
    " JOIN customers c ON c.id = o.customer_id WHERE c.external_id LIKE :like",
    "order_lines": "SELECT l.*, o.external_id AS order_ FROM order_lines l JOIN orders o ON o.id = l.order_id"
    " WHERE o.external_id LIKE :like",
    "ledger_entries": "SELECT e.*, c.external_id AS customer_, o.external_id AS order_, v.external_id AS event_,"
    " r.kind AS related_kind_, r.bucket AS related_bucket_, r.reason AS related_reason_,"
    " ro.external_id AS related_order_, rv.external_id AS related_event_"
    " FROM ledger_entries e JOIN customers c ON c.id = e.customer_id"
    " LEFT JOIN orders o ON o.id = e.order_id LEFT JOIN engagement_events v ON v.id = e.event_id"
    " LEFT JOIN ledger_entries r ON r.id = e.related_entry_id LEFT JOIN orders ro ON ro.id = r.order_id"
    " LEFT JOIN engagement_events rv ON rv.id = r.event_id WHERE c.external_id LIKE :like",
    "engagement_events": "SELECT v.*, c.external_id AS customer_ FROM engagement_events v"
    " JOIN customers c ON c.id = v.customer_id WHERE c.external_id LIKE :like",
    "rule_uses": "SELECT u.*, c.external_id AS customer_, o.external_id AS order_, v.external_id AS event_"
    " FROM rule_uses u JOIN customers c ON c.id = u.customer_id LEFT JOIN orders o ON o.id = u.order_id"
    " LEFT JOIN engagement_events v ON v.id = u.event_id WHERE c.external_id LIKE :like",
    "rule_budgets": "SELECT * FROM rule_budgets WHERE rule_id LIKE :like",
    "reward_events": "SELECT * FROM reward_events WHERE customer_external_id LIKE :like",
    "customer_event_sequences": "SELECT * FROM customer_event_sequences WHERE customer_external_id LIKE :like",
    "order_returns": "SELECT r.*, o.external_id AS order_ FROM order_returns r JOIN orders o ON o.id = r.order_id"
    " WHERE r.external_id LIKE :like",
    "order_return_lines": "SELECT l.*, r.external_id AS return_ FROM order_return_lines l"
    " JOIN order_returns r ON r.id = l.order_return_id WHERE r.external_id LIKE :like",
    "adjustments": "SELECT a.*, c.external_id AS customer_, e.reason AS entry_reason_ FROM adjustments a"
    " JOIN customers c ON c.id = a.customer_id JOIN ledger_entries e ON e.id = a.entry_id"
    " WHERE c.external_id LIKE :like",
    "referrals": "SELECT r.*, r.id AS referral_, a.external_id AS referrer_, b.external_id AS friend_,"
    " o.external_id AS first_order_ FROM referrals r JOIN customers a ON a.id = r.referrer_id"
    " JOIN customers b ON b.id = r.friend_id LEFT JOIN orders o ON o.id = r.first_order_id"
    " WHERE b.external_id LIKE :like",
    "redemptions": "SELECT r.*, r.id AS redemption_, c.external_id AS customer_, o.external_id AS order_"
    " FROM redemptions r JOIN customers c ON c.id = r.customer_id LEFT JOIN orders o ON o.id = r.order_id"
    " WHERE c.external_id LIKE :like",
    "redemption_lots": "SELECT l.*, r.reward_id AS reward_, o.external_id AS entry_order_, e.kind AS entry_kind_"
    " FROM redemption_lots l JOIN redemptions r ON r.id = l.redemption_id JOIN customers c ON c.id = r.customer_id"
    " JOIN ledger_entries e ON e.id = l.entry_id LEFT JOIN orders o ON o.id = e.order_id"
    " WHERE c.external_id LIKE :like",
    # Who ran a job and when, in wall time, differs by nature; so do its counts on PostgreSQL,
    # which count the whole shared database (this run's rows are compared in their tables).
    "job_runs": "SELECT name, as_of, status FROM job_runs WHERE as_of IN (:first, :last)",
}
# Columns whose values each database makes up at random: compared as what they stand for.
RANDOM = {"customers": ("referral_code", "external_id"), "redemptions": ("code", "reward_id")}
# Ids that values name (`source` "redemption:7", a reason, a payload's "redemptionId"):
# the table, and the column of the id selected for the purpose and what stands for it.
NAMED_IDS = {"redemptions": ("redemption_", "reward_id"), "referrals": ("referral_", "friend_")}
_NAMED_ID = re.compile(r"(?i)\b(redemption|referral)([: ])(\d+)\b")


def comparable(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row as plain JSON values, decoded by its table's description, ids left out."""
    columns = TABLES[table].columns
    out: dict[str, Any] = {}
    for name, value in row.items():
        column = columns.get(name)
        kind = column.pg_type if column is not None else None
        if kind == "bigint" and (name == "id" or name.endswith("_id")):
            continue  # an id: what it refers to is selected beside it
        if value is None:
            out[name] = None
        elif kind == "numeric":
            # SQLite's numeric affinity may hand back a float that arithmetic touched.
            out[name] = str(Decimal(str(value)).quantize(Decimal("1e-10")).normalize())
        elif kind == "timestamptz":
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            out[name] = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        elif kind == "date":
            out[name] = value if isinstance(value, str) else date.isoformat(value)
        elif kind == "jsonb":
            out[name] = json.loads(value) if isinstance(value, str | bytes) else value
        elif kind == "boolean":
            out[name] = bool(value)  # SQLite's are 0 and 1
        else:
            out[name] = value
    return out


def replaced(value: Any, aliases: dict[str, str], ids: dict[str, dict[str, str]], key: str = "") -> Any:
    """`value` with every random value and every id it names replaced by what it stands for."""
    if isinstance(value, dict):
        return {k: replaced(v, aliases, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [replaced(v, aliases, ids) for v in value]
    if key.endswith("Id") and key[:-2] in ids and str(value) in ids[key[:-2]]:
        return ids[key[:-2]][str(value)]
    if isinstance(value, str):
        for random_value, alias in aliases.items():
            value = value.replace(random_value, alias)
        return _NAMED_ID.sub(
            lambda m: m.group(1) + m.group(2) + ids[m.group(1).lower()].get(m.group(3), m.group(3)), value
        )
    return value


async def written(database_url: str, suffix: str) -> dict[str, list[str]]:
    database = await open_database(database_url)
    try:
        with database:
            found = {
                table: [
                    comparable(table, row)
                    for row in await sql.fetch_named(
                        Statement(query),
                        {"first": FIRST_JOBS, "last": LAST_JOBS} if table == "job_runs" else {"like": f"%{suffix}"},
                    )
                ]
                for table, query in QUERIES.items()
            }
    finally:
        await close_database(database)
    # A value made up at random (a referral or coupon code), wherever it appears, by what it is.
    aliases = {
        row[column]: f"<{column} of {row[label]}>"
        for table, (column, label) in RANDOM.items()
        for row in found[table]
        if row[column] is not None
    }
    ids = {
        table.removesuffix("s"): {str(row.pop(column)): f"<{row[label]}>" for row in found[table]}
        for table, (column, label) in NAMED_IDS.items()
    }
    found = {table: [replaced(row, aliases, ids) for row in rows] for table, rows in found.items()}
    for row in found["orders"]:
        if any(code.startswith("<code of") for code in row["coupon_codes"]):
            row["request_hash"] = "<the digest of a request that names a code>"
    return {table: sorted(json.dumps(row, sort_keys=True) for row in rows) for table, rows in found.items()}


async def test_sqlite_and_postgresql_write_the_same_rows(servers, rules, suffix, monkeypatch):
    assert POSTGRES_URL
    run = Sequence(servers, rules, monkeypatch)
    await record_the_sequence(run, suffix)

    sqlite = await written(servers["sqlite"].database_url, suffix)
    postgres = await written(servers["postgres"].database_url, suffix)
    assert all(postgres[table] for table in QUERIES), [table for table in QUERIES if not postgres[table]]
    differences = []
    for table in QUERIES:
        if sqlite[table] != postgres[table]:
            differences.append(f"{table}:")
            differences += [f"  sqlite:   {row}" for row in sqlite[table] if row not in postgres[table]]
            differences += [f"  postgres: {row}" for row in postgres[table] if row not in sqlite[table]]
    assert not differences, "\n".join(differences)
