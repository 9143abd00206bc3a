"""A backtest of 100,000 orders (`loyalty rules simulate`, issue 13) on PostgreSQL.

Loads, with COPY, 10,000 customers and 100,000 orders of one to three lines placed over
the last 90 days, an earn entry per order (what the replay sums for each order's
customer's points as of then) and a tier change for a tenth of the customers. Then replays
them with app.simulation.simulate_rules (what the command and the simulateRules query run)
under the demo rules as the version in force and, as the candidate, the demo rules with
base-earn doubled.

Floors, measured in the same run: reading every page alone (the same statements, nothing
evaluated), and evaluating the same orders under both versions alone, in this one process
with nothing read (what one CPU does; the replay spreads it over a pool of processes).

Target (issue 13): 100,000 orders in under a minute. Uses its own database,
`loyalty_bench_simulate` (`--database-name`), dropped and created afresh on each run
(`--reuse` keeps the one a previous run loaded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_events import fresh_database  # noqa: E402

CUSTOMERS = 10_000
ORDERS = 100_000
DAYS = 90
FLOOR_SAMPLE = 10_000
CATEGORIES = ("cribs", "feeding", "toys", "books", "strollers", None)


async def load(url: str, orders: int, now: datetime) -> None:
    rng = random.Random(13)
    start = now - timedelta(days=DAYS)
    customers = [
        (n, f"c-{n}", f"c{n}@example.com", "[]", "{}", "Bronze", 0, 0, 0, Decimal(0), 0, start - timedelta(days=30))
        for n in range(1, CUSTOMERS + 1)
    ]
    order_rows, lines, entries = [], [], []
    line_id = 0
    for n in range(1, orders + 1):
        customer = rng.randrange(1, CUSTOMERS + 1)
        placed = start + timedelta(seconds=rng.randrange(DAYS * 86400 - 3600))
        count = rng.choice((1, 1, 2, 3))
        subtotal = Decimal(0)
        for position in range(count):
            price = Decimal(rng.randrange(300, 20000)) / 100
            quantity = rng.randrange(1, 4)
            subtotal += price * quantity
            line_id += 1
            category = rng.choice(CATEGORIES)
            lines.append((line_id, n, position, f"SKU-{rng.randrange(2000)}", category, quantity, price))
        order_rows.append(
            (n, f"o-{n}", customer, "EUR", placed, subtotal, Decimal(0), "[]", int(subtotal), "bench", "x", placed)
            + ("EUR", subtotal, Decimal(1))
        )
        entries.append((customer, "earn", "available", int(subtotal), "bench", "base-earn", "bench", n, placed))
    tier_changes = [
        (
            "tier.changed",
            f"c-{n}",
            start + timedelta(days=rng.randrange(DAYS)),
            json.dumps({"from": "Bronze", "to": "Silver", "reason": "threshold"}),
            1,
        )
        for n in range(1, CUSTOMERS + 1, 10)
    ]
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "customers",
            records=customers,
            columns=[
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
                "enrolled_at",
            ],  # fmt: skip
        )
        await conn.copy_records_to_table(
            "orders",
            records=order_rows,
            columns=[
                "id",
                "external_id",
                "customer_id",
                "currency",
                "placed_at",
                "subtotal",
                "shipping_amount",
                "coupon_codes",
                "points_earned",
                "rules_version",
                "request_hash",
                "created_at",
                "program_currency",
                "program_subtotal",
                "exchange_rate",
            ],  # fmt: skip
        )
        await conn.copy_records_to_table(
            "order_lines",
            records=lines,
            columns=["id", "order_id", "position", "sku", "category", "quantity", "unit_price"],
        )
        await conn.copy_records_to_table(
            "ledger_entries",
            records=entries,
            columns=[
                "customer_id",
                "kind",
                "bucket",
                "points",
                "reason",
                "rule_id",
                "rules_version",
                "order_id",
                "created_at",
            ],  # fmt: skip
        )
        await conn.copy_records_to_table(
            "reward_events",
            records=tier_changes,
            columns=["type", "customer_external_id", "occurred_at", "payload", "customer_sequence"],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def loaded_period(url: str, orders: int) -> tuple[datetime, datetime] | None:
    """The period of a database this bench loaded before with as many orders, or None."""
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        count, first, last = await conn.fetchrow("SELECT COUNT(*), MIN(placed_at), MAX(placed_at) FROM orders")
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    return (first, last + timedelta(seconds=1)) if count == orders else None


async def backends_cpu(url: str, database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving `database` (the server runs
    on this machine: /proc has them). Backends that ended meanwhile are not counted."""
    conn = await asyncpg.connect(url)
    try:
        pids = [r["pid"] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)]
        mine = await conn.fetchval("SELECT pg_backend_pid()")
    finally:
        await conn.close()
    ticks = 0
    for pid in pids:
        if pid == mine:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def candidate_of(program_sources: dict[str, str]) -> dict[str, str]:
    sources = dict(program_sources)
    text = sources["earning.yaml"]
    assert "then: {points: {per_unit: 1}}" in text
    sources["earning.yaml"] = text.replace("then: {points: {per_unit: 1}}", "then: {points: {per_unit: 2}}", 1)
    return sources


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_simulate")
    parser.add_argument("--orders", type=int, default=ORDERS)
    parser.add_argument("--workers", type=int, default=None, help="as `loyalty rules simulate --workers`")
    parser.add_argument("--reuse", action="store_true", help="reuse the database a previous run loaded")
    parser.add_argument("--skip-floor", action="store_true", help="skip the in-process evaluation floor (slow)")
    args = parser.parse_args()

    from app import simulation
    from persistence.database import close_database, open_database
    from persistence.history import Cursor
    from persistence.unit_of_work import UnitOfWork
    from rules import DEMO_RULES_DIR, load_program, load_program_from_sources
    from rules.backtest import replay

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    now = datetime.now(UTC).replace(microsecond=0)
    url = f"{args.database_url.rsplit('/', 1)[0]}/{args.database_name}"
    loaded = await loaded_period(url, args.orders) if args.reuse else None
    if loaded is None:
        url = await fresh_database(args.database_url, args.database_name)
        started = time.perf_counter()
        await load(url, args.orders, now)
        print(f"loaded {args.orders:,} orders with COPY in {time.perf_counter() - started:.1f} s")
        loaded = (now - timedelta(days=DAYS + 1), now + timedelta(seconds=1))
    else:
        print(f"reusing the {args.orders:,} orders of {args.database_name}")

    current = load_program(DEMO_RULES_DIR)
    candidate = load_program_from_sources(candidate_of(current.sources))
    span = simulation.period(*loaded)
    db = await open_database(url.replace("postgresql://", "postgres://"))
    try:
        uow = UnitOfWork(db)

        # Floor 1: every page read, nothing evaluated.
        started = time.perf_counter()
        pages: list = []
        after: Cursor | None = None
        while True:
            async with uow.reading() as session:
                page = await session.history.orders_page(span.since, span.until, after, simulation.PAGE)
            pages.append(page.items)
            if page.next is None:
                break
            after = page.next
        reads = time.perf_counter() - started
        read_orders = sum(len(p) for p in pages)
        assert read_orders == args.orders, read_orders
        print(f"floor, reading the {len(pages)} pages alone: {reads:.1f} s ({read_orders / reads:,.0f} orders/s)")

        # Floor 2: both versions over the same orders in this one process, nothing read (a
        # sample of FLOOR_SAMPLE orders: the whole would take minutes).
        if not args.skip_floor:
            sample = [order for items in pages for order in items][:FLOOR_SAMPLE]
            started, cpu = time.perf_counter(), time.process_time()
            replay(current, sample)
            replay(candidate, sample)
            evaluating, evaluating_cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"floor, both versions evaluated in one process, nothing read ({len(sample):,} orders):"
                f" {evaluating / len(sample) / 2 * 1e6:.0f} µs per order and version"
                f" ({evaluating_cpu / len(sample) / 2 * 1e6:.0f} µs of CPU), so"
                f" {evaluating / len(sample) * args.orders:.0f} s for {args.orders:,} orders on one CPU"
            )
        del pages

        # The pool's connections are open from the floor above: their CPU is read around the run.
        database_cpu = await backends_cpu(url, args.database_name)
        started, cpu = time.perf_counter(), time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = await simulation.simulate_rules(uow, current, candidate, span, workers=args.workers)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        database_cpu = await backends_cpu(url, args.database_name) - database_cpu
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu = (after_children.ru_utime + after_children.ru_stime) - (children.ru_utime + children.ru_stime)
    finally:
        await close_database(db)
    base = next(rule for rule in result.rules if rule.rule_id == "base-earn")
    assert result.orders == args.orders and base.candidate.points >= 2 * base.current.points, base
    workers = args.workers if args.workers is not None else simulation.workers_for(None, args.orders)
    print(
        f"simulate_rules: {args.orders:,} orders in {took:.1f} s ({args.orders / took:,.0f} orders/s,"
        f" {workers} worker process(es)); base-earn {base.current.points:,} -> {base.candidate.points:,} points"
        "  [target: 100,000 orders < 60 s]"
    )
    total_cpu = cpu + workers_cpu + database_cpu
    print(
        f"  CPU: this process {cpu:.1f} s (reading, decoding), worker processes {workers_cpu:.1f} s (evaluating),"
        f" PostgreSQL {database_cpu:.1f} s: {total_cpu:.1f} s in all, {total_cpu / (os.cpu_count() or 1):.1f} s"
        f" on {os.cpu_count()} CPUs if they were this run's alone"
    )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
