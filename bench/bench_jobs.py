"""The points jobs over 1,000,000 customers and 10,000,000 ledger entries on PostgreSQL
(issue 12): release, expiry under each policy, the expiry notices and the tier review.

Loads, with COPY, `--customers` customers and `--entries` ledger entries (per customer,
in order: earn entries available at once, expiring 365 days after they were earned over
the last 400 days, so about a tenth are past their expiry; one earn entry pending 14
days, earned over the last 30 days, so about half are due for release; one redemption of
5 points), their cached balances consistent with the entries, a last order over the last
400 days (so about half are 180 days inactive), and a tier above the lowest for a fifth
of them, reached over 400 days ago (so their review is due).

Then runs each job through the function `loyalty jobs run` calls (app.jobs), timed, with
its floor measured in the same run: the same due rows found by a bare `INSERT ... SELECT`
into an unlogged table with no index (what scanning and writing them costs without the
checks that make the job safe to repeat, the balances and the events). Between the
policies the database is put back as loaded (the job's entries, notices and events
deleted, the balances restored): the bench's own database, not a ledger anyone keeps.

Target (issue 12): under 60 s each at full size. Uses its own database,
`loyalty_bench_jobs` (`--database-name`), dropped and created afresh on each run
(`--reuse` keeps the one a previous run loaded with as many customers and entries,
applies the migrations added since, and puts it back as loaded).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_events import fresh_database  # noqa: E402
from bench.bench_simulate import backends_cpu  # noqa: E402

CUSTOMERS = 1_000_000
ENTRIES = 10_000_000
INACTIVE_DAYS, NOTICE_DAYS, EXPIRES_DAYS = 180, 30, 365
CHUNK = 50_000
"""Rows per COPY chunk of text."""

PROGRAM = f"""
program:
  name: Bench
  currency: EUR
  points: {{pending_days: 14, expires_in_days: {EXPIRES_DAYS}, notice_days: {NOTICE_DAYS}}}
tiers:
  - {{name: Bronze, threshold: 0}}
  - {{name: Silver, threshold: 500}}
  - {{name: Gold, threshold: 2000}}
tier_qualification:
  period: {{rolling_days: 365}}
  review: anniversary
rules:
  - id: base-earn
    on: order
    then: {{points: {{per_unit: 1}}}}
"""


def _ts(moment: datetime) -> str:
    return moment.isoformat()


async def _copy(conn: asyncpg.Connection, table: str, columns: list[str], rows: AsyncIterator[str]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        count = 0
        async for line in rows:
            buffer.write(line)
            count += 1
            if count == CHUNK:
                yield buffer.getvalue().encode()
                buffer, count = io.StringIO(), 0
        if count:
            yield buffer.getvalue().encode()

    await conn.copy_to_table(table, source=chunks(), columns=columns, format="text")


async def load(url: str, customers: int, entries: int, now: datetime) -> None:
    rng = random.Random(12)
    per = max(3, entries // customers)
    balances: list[tuple[int, int, int]] = []

    async def customer_rows() -> AsyncIterator[str]:
        enrolled = _ts(now - timedelta(days=800))
        for n in range(1, customers + 1):
            last_order = _ts(now - timedelta(seconds=rng.randrange(400 * 86400)))
            upper = n % 5 == 0
            tier = rng.choice(("Silver", "Gold")) if upper else "Bronze"
            available, pending, lifetime = balances[n - 1]
            yield (
                f"{n}\tc-{n}\tc{n}@example.com\t[]\t{{}}\t{tier}\t{available}\t{pending}\t{lifetime}\t0\t1"
                f"\t{last_order}\t{enrolled}\n"
            )

    async def entry_rows() -> AsyncIterator[str]:
        for n in range(1, customers + 1):
            available = pending = lifetime = 0
            for j in range(per):
                if j == per - 1:
                    points = min(5, available)
                    created = now - timedelta(days=1)
                    yield f"{n}\tredeem\tavailable\t{-points}\tbench\t\\N\t\\N\t{_ts(created)}\t{_ts(created)}\t\\N\n"
                    available -= points
                elif j == per - 2:
                    points = rng.randrange(10, 200)
                    created = now - timedelta(seconds=rng.randrange(30 * 86400))
                    due = created + timedelta(days=14)
                    gone = due + timedelta(days=EXPIRES_DAYS)
                    times = f"{_ts(created)}\t{_ts(due)}\t{_ts(gone)}"
                    yield f"{n}\tearn\tpending\t{points}\tbench\tbase-earn\tv\t{times}\n"
                    pending += points
                    lifetime += points
                else:
                    points = rng.randrange(10, 200)
                    created = now - timedelta(seconds=rng.randrange(400 * 86400))
                    gone = created + timedelta(days=EXPIRES_DAYS)
                    yield (
                        f"{n}\tearn\tavailable\t{points}\tbench\tbase-earn\tv\t{_ts(created)}\t{_ts(created)}"
                        f"\t{_ts(gone)}\n"
                    )
                    available += points
                    lifetime += points
            balances.append((available, pending, lifetime))

    conn = await asyncpg.connect(url)
    try:
        columns = [
            "customer_id", "kind", "bucket", "points", "reason", "rule_id", "rules_version",
            "created_at", "available_at", "expires_at",
        ]  # fmt: skip
        # Customers after their entries (whose sums they cache): the foreign key's triggers
        # are off while the entries are loaded.
        async with conn.transaction():
            await conn.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ALL")
            await _copy(conn, "ledger_entries", columns, entry_rows())
            await conn.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ALL")
            await _copy(
                conn,
                "customers",
                [
                    "id",
                    "external_id",
                    "email",
                    "tags",
                    "attributes",
                    "tier",
                    "points_available",
                    "points_pending",
                    "lifetime_earned",
                    "lifetime_spend",
                    "order_count",
                    "last_order_at",
                    "enrolled_at",
                ],  # fmt: skip
                customer_rows(),
            )
        await conn.execute(
            "CREATE TABLE bench_balances AS SELECT id, points_available, points_pending, tier, tier_reviewed_at"
            " FROM customers"
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def loaded(url: str, customers: int, entries: int) -> datetime | None:
    """When a database this bench loaded before with as many rows was loaded, or None."""
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        count = await conn.fetchval("SELECT COUNT(*) FROM customers")
        if count != customers or not await conn.fetchval("SELECT to_regclass('bench_balances') IS NOT NULL"):
            return None
        return await conn.fetchval("SELECT MAX(created_at) FROM ledger_entries WHERE kind = 'redeem'") + timedelta(
            days=1
        )
    finally:
        await conn.close()


async def reset(url: str) -> None:
    """The database as loaded: what the jobs wrote deleted, balances and tiers restored."""
    conn = await asyncpg.connect(url)
    try:
        # The app's ledger is append-only (migration 0006's triggers); the bench's own is not.
        await conn.execute("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
        await conn.execute("DELETE FROM ledger_entries WHERE kind IN ('release', 'expire')")
        await conn.execute("ALTER TABLE ledger_entries ENABLE TRIGGER USER")
        await conn.execute("DELETE FROM expiry_notices")
        await conn.execute("DELETE FROM reward_events")
        await conn.execute("DELETE FROM customer_event_sequences")
        await conn.execute(
            "UPDATE customers c SET points_available = b.points_available, points_pending = b.points_pending,"
            " tier = b.tier, tier_reviewed_at = b.tier_reviewed_at FROM bench_balances b WHERE b.id = c.id"
            " AND (c.points_available, c.points_pending, c.tier, c.tier_reviewed_at)"
            " IS DISTINCT FROM (b.points_available, b.points_pending, b.tier, b.tier_reviewed_at)"
        )
        await conn.execute("VACUUM ANALYZE ledger_entries")
        await conn.execute("VACUUM ANALYZE customers")
    finally:
        await conn.close()


async def floor(url: str, condition: str, *values: object) -> tuple[float, int]:
    """A bare `INSERT ... SELECT` of the due rows into an unlogged table with no index."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_floor")
        await conn.execute("CREATE UNLOGGED TABLE bench_floor (id BIGINT, customer_id BIGINT, points BIGINT)")
        started = time.perf_counter()
        status = await conn.execute(
            f"INSERT INTO bench_floor SELECT e.id, e.customer_id, e.points FROM ledger_entries e WHERE {condition}",
            *values,
        )
        took = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_floor")
    finally:
        await conn.close()
    return took, int(status.rsplit(" ", 1)[1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_jobs")
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--entries", type=int, default=ENTRIES)
    parser.add_argument("--reuse", action="store_true", help="reuse the database a previous run loaded")
    parser.add_argument("--jobs", default="release,expiry,notices,inactivity,inactivity-notices,tier-review")
    args = parser.parse_args()

    from app import jobs
    from domain.expiry import ExpiryPolicy
    from persistence.database import close_database, migrate, open_database
    from persistence.unit_of_work import UnitOfWork
    from rules import load_program

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    url = f"{args.database_url.rsplit('/', 1)[0]}/{args.database_name}"
    now = await loaded(url, args.customers, args.entries) if args.reuse else None
    if now is None:
        now = datetime.now(UTC).replace(microsecond=0)
        url = await fresh_database(args.database_url, args.database_name)
        started = time.perf_counter()
        await load(url, args.customers, args.entries, now)
        print(
            f"loaded {args.customers:,} customers, {args.entries:,} entries with COPY"
            f" in {time.perf_counter() - started:.0f} s"
        )
    else:
        print(f"reusing {args.database_name} ({args.customers:,} customers)")
        # The schema of this code (a migration since the load, such as an index, applies).
        await migrate(url.replace("postgresql://", "postgres://"))
        await reset(url)

    folder = Path(tempfile.mkdtemp())
    (folder / "program.yaml").write_text(PROGRAM)
    program = load_program(folder)
    shutil.rmtree(folder)
    award = program.settings.expiry
    inactivity = ExpiryPolicy(inactive_days=INACTIVE_DAYS, notice_days=NOTICE_DAYS)
    inactive_since = now - timedelta(days=INACTIVE_DAYS)
    floors = {
        "release": ("kind = 'earn' AND bucket = 'pending' AND available_at <= $1", now),
        "expiry": ("kind = 'earn' AND bucket = 'available' AND expires_at <= $1", now),
        "notices": (
            "kind = 'earn' AND bucket = 'available' AND expires_at > $1 AND expires_at <= $2",
            now,
            now + timedelta(days=NOTICE_DAYS),
        ),
        "inactivity": (
            "kind = 'earn' AND bucket = 'available' AND customer_id IN"
            " (SELECT id FROM customers WHERE last_order_at <= $1)",
            inactive_since,
        ),
        "inactivity-notices": (
            "kind = 'earn' AND bucket = 'available' AND customer_id IN"
            " (SELECT id FROM customers WHERE last_order_at > $1 AND last_order_at <= $2)",
            inactive_since,
            inactive_since + timedelta(days=NOTICE_DAYS),
        ),
        "tier-review": ("kind = 'earn' AND customer_id IN (SELECT id FROM customers WHERE tier <> 'Bronze')",),
    }

    db = await open_database(url.replace("postgresql://", "postgres://"))
    uow = UnitOfWork(db)
    runs = {
        "release": lambda: jobs.release_pending_points(uow, now),
        "expiry": lambda: jobs.expire_points(uow, now, award),
        "notices": lambda: jobs.send_expiry_notices(uow, now, award),
        "inactivity": lambda: jobs.expire_points(uow, now, inactivity),
        "inactivity-notices": lambda: jobs.send_expiry_notices(uow, now, inactivity),
        "tier-review": lambda: jobs.review_tiers(uow, program, now),
    }
    try:
        ran = False
        for name in args.jobs.split(","):
            if name == "inactivity" and ran:
                await reset(url)  # the inactivity policy on the ledger as loaded
            ran = True
            floor_took, floor_rows = await floor(url, *floors[name])
            database_cpu = await backends_cpu(url, args.database_name)
            started, cpu = time.perf_counter(), time.process_time()
            report = await runs[name]()
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            database_cpu = await backends_cpu(url, args.database_name) - database_cpu
            print(
                f"{name}: {took:.1f} s ({report.summary()}); CPU here {cpu:.1f} s, PostgreSQL {database_cpu:.1f} s"
                f" | floor {floor_took:.1f} s ({floor_rows:,} rows): {took / max(floor_took, 1e-3):.1f}x"
                "  [target: < 60 s at 1,000,000 customers]"
            )
    finally:
        await close_database(db)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
