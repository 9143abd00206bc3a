"""The same recordings on SQLite and on PostgreSQL write the same rows.

Each database has its own way of writing an order (one statement on PostgreSQL, several
on SQLite), built from the same table descriptions; this records one sequence (orders,
with limits and a budget, a replay, returns, events, adjustments, jobs) through the use
cases on both, at the same instants, and compares every row written, ids replaced by what
they refer to. It runs in the PostgreSQL pass (scripts/test), next to a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from subprocess import PIPE, STDOUT

import pytest

from app import customers, engagement, jobs, orders, returns
from domain.customers import EnrollmentInput
from domain.events import EventInput
from domain.orders import OrderInput, OrderLineInput
from domain.returns import ReturnInput, ReturnLineInput
from persistence.unit_of_work import UnitOfWork
from rules import Program, load_program_from_sources
from tests.conftest import REPO_ROOT, TEST_DATABASE, TEST_RULES_DIR
from tests.rows import rows

START = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def program_for(suffix: str) -> Program:
    """The test rules, with points pending 14 days and expiring 30 days after, and the
    budget rule renamed so that its budget row is this test's alone."""
    sources = {path.name: path.read_text() for path in TEST_RULES_DIR.glob("*.yaml")}
    sources["program.yaml"] = sources["program.yaml"].replace(
        "  currency: EUR\n", "  currency: EUR\n  points: {pending_days: 14, expires_in_days: 30}\n", 1
    )
    assert "  - id: campaign\n" in sources["limits.yaml"]
    sources["limits.yaml"] = sources["limits.yaml"].replace("  - id: campaign\n", f"  - id: campaign-{suffix}\n")
    return load_program_from_sources(sources)


async def record_the_sequence(uow: UnitOfWork, program: Program, suffix: str) -> None:
    ada, bob = f"ada-{suffix}", f"bob-{suffix}"
    for who in (ada, bob):
        await customers.enroll_customer(uow, program, EnrollmentInput(who, f"{who}@example.com", tags=("vip",)))

    def order(
        n: int, who: str, *lines: tuple[str, int, str], coupons: tuple[str, ...] = (), currency: str = "EUR"
    ) -> OrderInput:
        items = tuple(OrderLineInput(sku, qty, price, "toys") for sku, qty, price in lines)
        return OrderInput(f"o{n}-{suffix}", who, currency, items, shipping_amount="4.90", coupon_codes=coupons)

    await orders.record_order(uow, program, order(1, ada, ("SKU-1", 2, "19.99"), ("SKU-2", 1, "5.50")))
    await orders.record_order(uow, program, order(1, ada, ("SKU-1", 2, "19.99"), ("SKU-2", 1, "5.50")))  # replay
    await orders.record_order(uow, program, order(2, ada, ("SKU-3", 1, "40.00"), coupons=("ONCE", "CAMPAIGN")))
    await orders.record_order(uow, program, order(3, bob, ("SKU-3", 3, "12.00"), coupons=("CAMPAIGN", "GIFT")))
    await orders.record_order(uow, program, order(4, bob, ("SKU-4", 1, "7.25"), coupons=("CAMPAIGN",)))
    await orders.record_order(uow, program, order(5, bob, ("SKU-5", 2, "10.99"), currency="USD"))
    await returns.record_return(uow, ReturnInput(f"r1-{suffix}", f"o1-{suffix}", (ReturnLineInput("SKU-1", 1),)))
    await returns.record_return(uow, ReturnInput(f"r2-{suffix}", f"o3-{suffix}", (ReturnLineInput("SKU-3", 3),)))
    await engagement.record_event(
        uow, program, EventInput(f"e1-{suffix}", ada, "review.published", attributes={"rating": 5})
    )
    await engagement.record_event(uow, program, EventInput(f"e2-{suffix}", bob, "social.followed"))
    await customers.adjust_points(uow, bob, 30, "Goodwill", "api-key:support", f"k1-{suffix}")
    await customers.adjust_points(uow, bob, 30, "Goodwill", "api-key:support", f"k1-{suffix}")  # replay
    await jobs.run_jobs(uow, None, START + timedelta(days=15))
    await customers.adjust_points(uow, ada, -5, "Correction", "api-key:support")
    await jobs.run_jobs(uow, None, START + timedelta(days=50))


# Every table the sequence writes, and how its rows are found and told apart without ids.
QUERIES = {
    "customers": "SELECT * FROM customers WHERE external_id LIKE :like",
    "orders": "SELECT o.*, c.external_id AS customer_ FROM orders o"
    " JOIN customers c ON c.id = o.customer_id WHERE c.external_id LIKE :like",
    "order_lines": "SELECT l.*, o.external_id AS order_ FROM order_lines l JOIN orders o ON o.id = l.order_id"
    " WHERE o.external_id LIKE :like",
    "ledger_entries": "SELECT e.*, c.external_id AS customer_, o.external_id AS order_, v.external_id AS event_,"
    " r.kind AS related_kind_, ro.external_id AS related_order_, r.rule_id AS related_rule_"
    " FROM ledger_entries e JOIN customers c ON c.id = e.customer_id"
    " LEFT JOIN orders o ON o.id = e.order_id LEFT JOIN engagement_events v ON v.id = e.event_id"
    " LEFT JOIN ledger_entries r ON r.id = e.related_entry_id LEFT JOIN orders ro ON ro.id = r.order_id"
    " WHERE c.external_id LIKE :like",
    "engagement_events": "SELECT v.*, c.external_id AS customer_ FROM engagement_events v"
    " JOIN customers c ON c.id = v.customer_id WHERE c.external_id LIKE :like",
    "rule_uses": "SELECT u.*, c.external_id AS customer_, o.external_id AS order_, v.external_id AS event_"
    " FROM rule_uses u JOIN customers c ON c.id = u.customer_id LEFT JOIN orders o ON o.id = u.order_id"
    " LEFT JOIN engagement_events v ON v.id = u.event_id WHERE c.external_id LIKE :like",
    "rule_budgets": "SELECT * FROM rule_budgets WHERE rule_id LIKE :like",
    "reward_events": "SELECT * FROM reward_events WHERE customer_external_id LIKE :like",
    "order_returns": "SELECT r.*, o.external_id AS order_ FROM order_returns r JOIN orders o ON o.id = r.order_id"
    " WHERE r.external_id LIKE :like",
    "order_return_lines": "SELECT l.*, r.external_id AS return_ FROM order_return_lines l"
    " JOIN order_returns r ON r.id = l.order_return_id WHERE r.external_id LIKE :like",
    "adjustments": "SELECT a.*, c.external_id AS customer_, e.reason AS entry_reason_ FROM adjustments a"
    " JOIN customers c ON c.id = a.customer_id JOIN ledger_entries e ON e.id = a.entry_id"
    " WHERE a.idempotency_key LIKE :like",
}
IDS = {"id", "customer_id", "order_id", "event_id", "related_entry_id", "order_return_id", "entry_id"}


def comparable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value.normalize()) if value else "0"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


async def written(uow: UnitOfWork, suffix: str) -> dict[str, list[str]]:
    tables = {}
    for table, sql in QUERIES.items():
        found = await rows(uow, sql, table, like=f"%{suffix}")
        tables[table] = sorted(
            json.dumps({k: comparable(v) for k, v in row.items() if k not in IDS}, sort_keys=True, default=str)
            for row in found
        )
    return tables


@pytest.fixture
async def sqlite_uow(tmp_path: Path) -> AsyncIterator[UnitOfWork]:
    url = f"sqlite://{tmp_path / 'same-rows.db'}"
    # Migrated by the CLI in its own process: Tortoise keeps per-dialect state for the
    # process, and this one has migrated PostgreSQL already.
    env = {**os.environ, "LOYALTY_DATABASE_URL": url}
    migrating = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "migrate", cwd=REPO_ROOT, env=env, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await migrating.communicate()
    assert migrating.returncode == 0, output.decode()
    unit = await UnitOfWork.open(url)
    try:
        yield unit
    finally:
        await unit.close()


@pytest.mark.postgres
async def test_sqlite_and_postgresql_write_the_same_rows(uow, sqlite_uow, monkeypatch):
    if TEST_DATABASE != "postgres":
        pytest.skip("runs in the PostgreSQL pass, beside a SQLite file of its own")
    suffix = uuid.uuid4().hex[:10]
    program = program_for(suffix)
    results = {}
    for name, unit in (("sqlite", sqlite_uow), ("postgres", uow)):
        clock = Clock()
        for module in (customers, orders, returns, engagement):
            monkeypatch.setattr(module, "utcnow", clock)
        await record_the_sequence(unit, program, suffix)
        results[name] = await written(unit, suffix)

    assert all(results["postgres"][table] for table in QUERIES), "the sequence writes to every table"
    for table in QUERIES:
        sqlite, postgres = results["sqlite"][table], results["postgres"][table]
        only = [f"sqlite: {r}" for r in sqlite if r not in postgres]
        only += [f"postgres: {r}" for r in postgres if r not in sqlite]
        assert sqlite == postgres, f"{table}:\n" + "\n".join(only)
