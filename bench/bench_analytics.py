"""History import and program metrics on PostgreSQL, at 1,000,000 orders.

1. Writes a CSV of 1,000,000 orders (100,000 customers, one to three lines each, placed
   from July 2024 to December 2025) in our import shape, and imports it with
   app.imports.import_orders (what `loyalty import orders` runs: the file COPY'd to the
   server, its rows checked and grouped into orders in SQL, the batches written by two
   connections). Floor: the same rows, already in memory, COPY'd into two bare tables with
   no checks: the least any import of them could cost. Also prints the CPU the import took
   in PostgreSQL's backends and in this process, and the load average.
2. Adds an earn entry per order, a redeem entry for a tenth of the customers and 200,000
   engagement events (plain SQL), then computes every part of programMetrics for 2025
   (app.program_metrics, as the resolvers call it). Floor: one scan of each table the metrics read
   (orders in the year, the whole ledger, the events), summed.

Targets (issue 14): import at least 20,000 orders a second; every metric for a year in
under 3 s in total. Uses its own database, `loyalty_bench_metrics` (`--database-name`),
dropped and created afresh on each run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_events import fresh_database  # noqa: E402
from bench.bench_simulate import backends_cpu  # noqa: E402

ORDERS = 1_000_000
CUSTOMERS = 100_000
START = datetime(2024, 7, 1, tzinfo=UTC)
DAYS = 549  # to the end of 2025


def write_csv(path: Path, orders: int) -> int:
    """Returns the number of lines (rows) written."""
    rng = random.Random(14)
    lines = 0
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["order_id", "customer_id", "email", "placed_at", "currency", "sku", "category", "quantity",
                      "unit_price", "shipping"])  # fmt: skip
        for n in range(orders):
            customer = rng.randrange(CUSTOMERS)
            placed = (START + timedelta(seconds=rng.randrange(DAYS * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")
            for position in range(rng.choice((1, 1, 2, 3))):
                out.writerow([f"o-{n}", f"c-{customer}", f"c{customer}@example.com", placed, "EUR",
                              f"SKU-{rng.randrange(500)}", "cribs" if position == 0 else "", rng.randrange(1, 4),
                              f"{rng.randrange(500, 20000) / 100:.2f}", "4.90" if position == 0 else ""])  # fmt: skip
                lines += 1
    return lines


async def copy_floor(url: str, path: Path) -> float:
    """Parse the CSV into tuples (not timed), then time bare COPYs of them."""
    orders: dict[str, tuple] = {}
    lines = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            placed = datetime.fromisoformat(row["placed_at"])
            order = (row["order_id"], row["customer_id"], placed, Decimal(row["unit_price"]))
            orders.setdefault(row["order_id"], order)
            lines.append((row["order_id"], row["sku"], int(row["quantity"]), Decimal(row["unit_price"])))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE floor_orders (id text, customer text, placed_at timestamptz, subtotal numeric);"
            "CREATE TABLE floor_lines (order_id text, sku text, quantity int, unit_price numeric)"
        )
        start = time.perf_counter()
        await conn.copy_records_to_table("floor_orders", records=list(orders.values()))
        await conn.copy_records_to_table("floor_lines", records=lines)
        elapsed = time.perf_counter() - start
        await conn.execute("DROP TABLE floor_orders; DROP TABLE floor_lines")
    finally:
        await conn.close()
    return elapsed


FILL = """
INSERT INTO ledger_entries (customer_id, kind, bucket, points, reason, rule_id, rules_version, order_id, created_at)
SELECT customer_id, 'earn', 'available', floor(program_subtotal)::bigint, 'bench', 'base-earn', 'import', id, placed_at
FROM orders;
INSERT INTO ledger_entries (customer_id, kind, bucket, points, reason, rules_version, created_at)
SELECT id, 'redeem', 'available', -LEAST(points, 500), 'bench', 'import', '2025-06-01'::timestamptz
FROM (SELECT c.id, SUM(e.points) AS points FROM customers c JOIN ledger_entries e ON e.customer_id = c.id
      WHERE c.id % 10 = 0 GROUP BY c.id) s;
INSERT INTO engagement_events (external_id, customer_id, type, attributes, occurred_at, points_earned, rules_version,
                               request_hash, created_at)
SELECT 'ev-' || g || '-' || c.id, c.id, 'review.published', '{}',
       '2024-07-01'::timestamptz + ((g * 7 + c.id) % 549) * interval '1 day', 0, 'import', 'x', now()
FROM (SELECT id FROM customers ORDER BY id LIMIT 100000) c, generate_series(1, 2) g;
INSERT INTO marketing_spend (period_start, period_end, amount, currency, created_at)
VALUES ('2025-01-01', '2025-12-31', 250000, 'EUR', now());
"""
# What autovacuum does soon after such a load: the metrics read the covering indexes
# without visiting the tables only where VACUUM has marked the pages all-visible.
SETTLE = ("VACUUM ANALYZE orders", "VACUUM ANALYZE ledger_entries", "VACUUM ANALYZE engagement_events",
          "VACUUM ANALYZE customers", "ANALYZE")  # fmt: skip

SCANS = (
    "SELECT COUNT(*), SUM(program_subtotal) FROM orders WHERE placed_at >= '2025-01-01' AND placed_at < '2026-01-01'",
    "SELECT COUNT(*), SUM(points) FROM ledger_entries",
    "SELECT COUNT(*) FROM engagement_events",
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_metrics")
    parser.add_argument("--orders", type=int, default=ORDERS)
    args = parser.parse_args()

    from app import imports
    from app import program_metrics as metrics
    from app.bootstrap import running_services
    from app.import_formats import columns
    from app.settings import Settings
    from persistence.analytics import Dimension

    url = await fresh_database(args.database_url, args.database_name)  # migrated
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.csv"
        started = time.perf_counter()
        lines = write_csv(path, args.orders)
        print(f"wrote {args.orders:,} orders ({lines:,} lines) in {time.perf_counter() - started:.1f} s")
        floor = await copy_floor(url, path)
        settings = Settings.from_env({"LOYALTY_DATABASE_URL": url.replace("postgresql://", "postgres://")})
        async with running_services(settings) as services:
            database_cpu = await backends_cpu(url, args.database_name)
            own_cpu = time.process_time()
            started = time.perf_counter()
            report = await imports.import_orders(
                services.uow, services.program, path, columns("orders", "loyalty", None)
            )
            took = time.perf_counter() - started
            own_cpu = time.process_time() - own_cpu
            database_cpu = await backends_cpu(url, args.database_name) - database_cpu
            assert report.imported == args.orders and not report.bad, report
            print(
                f"import: {args.orders / took:,.0f} orders/s ({took:.1f} s); floor, bare COPY of the same rows:"
                f" {args.orders / floor:,.0f} orders/s ({floor:.1f} s); import takes {took / floor:.1f}x the floor"
                "  [target: >= 20,000 orders/s]"
            )
            print(
                f"  CPU: PostgreSQL {database_cpu:.1f} s, this process {own_cpu:.1f} s;"
                f" load average {os.getloadavg()[0]:.1f} at the end"
            )
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(FILL)
                for statement in SETTLE:
                    await conn.execute(statement)
                started = time.perf_counter()
                for statement in SCANS:
                    await conn.fetch(statement)
                scans = time.perf_counter() - started
            finally:
                await conn.close()
            span = metrics.period(date(2025, 1, 1), date(2025, 12, 31))
            total = 0.0
            # As a programMetrics query asking for every part: overall, by tier and by
            # cohort in one call (its DataLoader), by month, per rule, acquisition.
            parts = [Dimension.OVERALL, Dimension.TIER, Dimension.COHORT]
            for name, part in (
                (
                    "overall+tier+cohort",
                    lambda: metrics.figures_for(services.uow, services.program, span, parts),
                ),
                ("month", lambda: metrics.figures(services.uow, services.program, span, Dimension.MONTH)),
                ("rules", lambda: metrics.rules(services.uow, services.program, span)),
                ("acquisition", lambda: metrics.acquisition(services.uow, services.program, span)),
            ):
                started = time.perf_counter()
                await part()
                elapsed = time.perf_counter() - started
                total += elapsed
                print(f"  {name:<20} {elapsed * 1000:7.0f} ms")
            print(
                f"every metric for 2025: {total:.2f} s; floor, one scan of each table read: {scans:.2f} s;"
                f" {total / scans:.1f}x the floor  [target: < 3 s]"
            )


if __name__ == "__main__":
    asyncio.run(main())
