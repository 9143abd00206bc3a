"""The learned-suggestions job's rebuild against the bare query it is made of.

The rebuild (persistence.suggestions.rebuild, through Tortoise, in one transaction) deletes
the pairs and writes them again with one INSERT ... SELECT over the order lines. The floor
is the same SELECT, counted and thrown away, in raw asyncpg: what the database must do just
to find the pairs. The ratio says what writing them costs on top.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from persistence import database, suggestions  # noqa: E402
from persistence.repositories import transaction  # noqa: E402

FLOOR = (
    "SELECT COUNT(*) FROM (SELECT a.sku, b.sku, COUNT(DISTINCT a.order_id)"
    " FROM order_lines a JOIN order_lines b ON b.order_id = a.order_id AND b.sku <> a.sku"
    " GROUP BY a.sku, b.sku HAVING COUNT(DISTINCT a.order_id) >= $1) t"
)

# Orders of 3 lines from a catalogue of `skus`, skewed so that some pairs are common:
# line n of order o is sku (o * (n + 1)^2 mod skus) when o is even, else (o + n) mod 50.
HISTORY = """
INSERT INTO customers (external_id, email, tags, points_available, points_pending, lifetime_earned,
                       lifetime_spend, order_count, enrolled_at)
VALUES ('bench-customer', 'bench@example.com', '[]', 0, 0, 0, 0, 0, now());
INSERT INTO orders (external_id, customer_id, currency, placed_at, subtotal, shipping_amount, coupon_codes,
                    points_earned, rules_version, request_hash, created_at, program_currency,
                    program_subtotal, exchange_rate)
SELECT 'bench-order-' || o, (SELECT id FROM customers WHERE external_id = 'bench-customer'), 'EUR', now(),
       30, 0, '[]', 0, 'bench', 'bench', now(), 'EUR', 30, 1
FROM generate_series(1, {orders}) AS o;
INSERT INTO order_lines (order_id, position, sku, category, quantity, unit_price)
SELECT o.id, n, 'SKU-' || CASE WHEN o.id % 2 = 0 THEN (o.id * (n + 1) * (n + 1)) % {skus} ELSE (o.id + n) % 50 END,
       'cat-' || (o.id % 20), 1, 10
FROM orders o, generate_series(0, 2) AS n;
"""


async def ensure_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'DROP DATABASE "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_learned", help="dropped, created and used")
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--skus", type=int, default=2_000)
    parser.add_argument("--min-support", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    url = await ensure_database(args.database_url, args.database_name)
    tortoise_url = url.replace("postgresql://", "postgres://", 1)
    await database.migrate(tortoise_url)
    raw = await asyncpg.connect(url)
    await raw.execute(HISTORY.format(orders=args.orders, skus=args.skus))
    await raw.execute("ANALYZE")
    ctx = await database.open_database(tortoise_url)
    floors: list[float] = []
    rebuilds: list[float] = []
    pairs = 0
    try:
        with ctx:
            for _ in range(args.rounds):
                start = time.perf_counter()
                found = await raw.fetchval(FLOOR, args.min_support)
                floors.append(time.perf_counter() - start)
                start = time.perf_counter()
                async with transaction():
                    pairs = await suggestions.rebuild(args.min_support, datetime.now(UTC))
                rebuilds.append(time.perf_counter() - start)
                assert pairs == found, (pairs, found)
    finally:
        await database.close_database(ctx)
        await raw.close()
    floor, rebuild = statistics.median(floors), statistics.median(rebuilds)
    print(f"{args.orders:,} orders, {3 * args.orders:,} lines, {pairs:,} pairs (min support {args.min_support})")
    print(f"floor (find the pairs, raw asyncpg): median {floor * 1000:,.0f} ms over {args.rounds} rounds")
    print(
        f"rebuild (delete, insert ... select): median {rebuild * 1000:,.0f} ms;"
        f" {floor / rebuild:.2f} of the floor's speed"
    )


if __name__ == "__main__":
    asyncio.run(main())
