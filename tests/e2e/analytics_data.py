"""A small program history with hand-computed metrics (tests/e2e/test_program_metrics.py).

Recorded through the use cases that the API calls, each as of the day it happened
(app.clock.as_of), into a database of its own: metrics are program-wide, so the shared
test database, which every other test writes to, would change them.

| customer | enrolled   | orders (EUR, placed)                        | other                        |
|----------|------------|---------------------------------------------|------------------------------|
| A        | 2025-01-10 | 600 Feb 10 (Silver from then), 100 Mar 10,  | review Mar 12 (+50), follow  |
|          |            | 40 Mar 20                                   | Mar 13 (+25), redeems 200    |
|          |            |                                             | Mar 28                       |
| B        | 2025-01-20 | 50 Feb 12, 20 Mar 25                        |                              |
| C        | 2025-02-15 | 30 Feb 20                                   |                              |
| D        | 2025-03-05 | 80 Mar 15                                   |                              |
| E        | 2025-04-02 |                                             |                              |

Test rules: 1 point per EUR (base-earn); Silver (from 500 points) earns half again
(silver-multiplier); the best fixed-value reward (coffee) gives 10 EUR for 100 points, so
a point is worth 0.10 EUR.
Marketing spend: 100.00 for March, 999.00 for April. Feedback scores: B 0 in February;
A 10, B 9, C 7, D 3 in March.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

from app import program_metrics as metrics
from app.bootstrap import Services, running_services
from app.clock import as_of
from app.customers import enroll_customer
from app.engagement import record_event
from app.orders import record_order
from domain.customers import EnrollmentInput
from domain.events import EventInput
from domain.ledger import Bucket, EntryKind, NewEntry
from domain.orders import OrderInput, OrderLineInput
from persistence import repositories as repo
from persistence import sql
from persistence.unit_of_work import UnitOfWork
from tests.conftest import POSTGRES_URL, TEST_DATABASE, Server, make_settings, running_server


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


ENROLMENTS = [("A", "2025-01-10"), ("B", "2025-01-20"), ("C", "2025-02-15"), ("D", "2025-03-05"), ("E", "2025-04-02")]
ORDERS = [
    ("A", "600.00", "2025-02-10"),
    ("B", "50.00", "2025-02-12"),
    ("C", "30.00", "2025-02-20"),
    ("A", "100.00", "2025-03-10"),
    ("D", "80.00", "2025-03-15"),
    ("A", "40.00", "2025-03-20"),
    ("B", "20.00", "2025-03-25"),
]
EVENTS = [("A", "review.published", {"rating": 5}, "2025-03-12"), ("A", "social.followed", {}, "2025-03-13")]


async def _load(services: Services) -> None:
    program = services.program
    for name, day in ENROLMENTS:
        with as_of(at(day)):
            await enroll_customer(
                services.uow, program, EnrollmentInput(external_id=name, email=f"{name.lower()}@example.com")
            )
    for n, (name, amount, day) in enumerate(ORDERS):
        with as_of(at(day)):
            data = OrderInput(
                external_id=f"order-{n}",
                customer_external_id=name,
                currency="EUR",
                lines=(OrderLineInput(sku="SKU", quantity=1, unit_price=amount),),
                placed_at=at(day),
            )
            await record_order(UnitOfWork.of_task(), program, data)
    for n, (name, kind, attributes, day) in enumerate(EVENTS):
        with as_of(at(day)):
            event = EventInput(external_id=f"event-{n}", customer_external_id=name, type=kind, attributes=attributes)
            await record_event(UnitOfWork.of_task(), program, event)
    # No redemption use case on this branch yet: the REDEEM entry a redemption writes.
    async with repo.transaction():
        row = await repo.lock_customer("A", ["customerExternalId"])
        spent = NewEntry(kind=EntryKind.REDEEM, bucket=Bucket.AVAILABLE, points=-200, reason="Redeemed: test")
        await repo.apply_entries(row, [spent], now=at("2025-03-28"), tier=row.tier)
    await _feedback()
    await metrics.record_marketing_spend(services.uow, program, date(2025, 3, 1), date(2025, 3, 31), "100.00")
    await metrics.record_marketing_spend(services.uow, program, date(2025, 4, 1), date(2025, 4, 30), "999.00")


FEEDBACK = [("B", 0, "2025-02-20"), ("A", 10, "2025-03-05"), ("B", 9, "2025-03-06"), ("C", 7, "2025-03-07"),
            ("D", 3, "2025-03-08")]  # fmt: skip


async def _feedback() -> None:
    """Scores dated in the past, in the columns submitFeedback writes."""
    for name, score, day in FEEDBACK:
        await sql.execute(
            "INSERT INTO feedback (customer_id, score, created_at)"
            " SELECT id, $1, $2 FROM customers WHERE external_id = $3",
            score,
            at(day),
            name,
        )


async def admin_statement(url: str, statement: str) -> None:
    """A statement on the PostgreSQL server itself (CREATE and DROP DATABASE)."""
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def own_database(tmp_path: Path, suffix: str) -> AsyncIterator[str]:
    """An empty, migrated database of this test's own (SQLite file, or a PostgreSQL
    database beside the test one, its name suffixed)."""
    if TEST_DATABASE == "sqlite":
        yield f"sqlite://{tmp_path / f'{suffix}.db'}"
        return
    assert POSTGRES_URL
    base, _, name = POSTGRES_URL.rpartition("/")
    fresh = f"{name.split('?')[0]}_{suffix}"
    await admin_statement(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{fresh}"')
    await admin_statement(POSTGRES_URL, f'CREATE DATABASE "{fresh}"')
    from persistence.database import migrate

    await migrate(f"{base}/{fresh}")
    try:
        yield f"{base}/{fresh}"
    finally:
        await admin_statement(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def server_with_history(tmp_path: Path) -> AsyncIterator[Server]:
    async with own_database(tmp_path, "analytics") as url:
        settings = make_settings(url)
        async with running_services(settings) as services:
            with services.db:
                await _load(services)
        async with running_server(settings) as server:
            yield server
