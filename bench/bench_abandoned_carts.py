"""The abandoned-carts job (app.abandoned_carts) against the writes it cannot do without.

`--carts` customers each leave one cart of two lines, last updated two days ago, under the
demo rules (which abandon a cart after 24 hours). A round opens every cart again and runs
either the job, which evaluates each cart as a dry run (what the order would earn) and then
abandons it in a transaction of its own (customer locked, guarded UPDATE, the event in the
outbox), or the floor: the same transactions in raw asyncpg on one connection, with the
event's payload built beforehand and nothing evaluated. Rounds alternate; the medians, the
ratio and this process's CPU per cart are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.abandoned_carts import abandon_carts  # noqa: E402
from persistence.database import close_database, migrate, open_database  # noqa: E402
from persistence.unit_of_work import UnitOfWork  # noqa: E402
from rules import DEMO_RULES_DIR, load_program  # noqa: E402

LINES = json.dumps(
    [
        {"sku": "CRIB-01", "quantity": 1, "unitPrice": "80.00", "category": "cribs"},
        {"sku": "BIB-7", "quantity": 2, "unitPrice": "20.00"},
    ],
    separators=(",", ":"),
)
DATA = """
INSERT INTO customers (external_id, email, tags, points_available, points_pending, lifetime_earned,
                       lifetime_spend, order_count, enrolled_at)
SELECT 'bench-' || n, 'bench-' || n || '@example.com', '[]', 0, 0, 0, 0, 0, now() - interval '30 days'
FROM generate_series(1, {carts}) AS n;
INSERT INTO carts (cart_id, customer_id, currency, lines, subtotal, program_subtotal, state, revision,
                   abandonments, created_at, updated_at)
SELECT 'cart-' || c.id, c.id, 'EUR', '{lines}', 120, 120, 'open', 1, 0, now() - interval '2 days',
       now() - interval '2 days'
FROM customers c;
"""
REOPEN = (
    "UPDATE carts SET state = 'open', revision = revision + 1; DELETE FROM reward_events WHERE type = 'cart.abandoned'"
)
FLOOR_PAGE = (
    "SELECT k.id, k.revision, c.external_id FROM carts k JOIN customers c ON c.id = k.customer_id"
    " WHERE k.state = 'open' AND k.updated_at <= $1 AND k.id > $2 ORDER BY k.id LIMIT 200"
)


async def ensure_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'DROP DATABASE "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def floor(raw: asyncpg.Connection, cutoff: datetime, now: datetime) -> int:
    """The job's reads and writes without its evaluation: a page of due carts, then per cart
    the customer locked, the guarded UPDATE and the outbox row, in one transaction."""
    payload = json.dumps({"cartId": "x", "lines": json.loads(LINES), "pointsToEarn": 120})
    done, after = 0, 0
    while page := await raw.fetch(FLOOR_PAGE, cutoff, after):
        after = page[-1]["id"]
        for row in page:
            async with raw.transaction():
                await raw.execute("SELECT id FROM customers WHERE external_id = $1 FOR UPDATE", row["external_id"])
                if await raw.fetchval(
                    "UPDATE carts SET state = 'abandoned', abandoned_at = $1, abandonments = abandonments + 1"
                    " WHERE id = $2 AND state = 'open' AND revision = $3 RETURNING id",
                    now,
                    row["id"],
                    row["revision"],
                ):
                    await raw.execute(
                        "INSERT INTO reward_events (type, customer_external_id, occurred_at, payload)"
                        " VALUES ('cart.abandoned', $1, $2, $3)",
                        row["external_id"],
                        now,
                        payload,
                    )
                    done += 1
    return done


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_carts", help="dropped, created and used")
    parser.add_argument("--carts", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    url = await ensure_database(args.database_url, args.database_name)
    service_url = url.replace("postgresql://", "postgres://", 1)
    await migrate(service_url)
    raw = await asyncpg.connect(url)
    await raw.execute(DATA.format(carts=args.carts, lines=LINES))
    await raw.execute("ANALYZE")
    program = load_program(DEMO_RULES_DIR)
    db = await open_database(service_url)
    uow = UnitOfWork(db)
    timings: dict[str, list[tuple[float, float]]] = {"floor": [], "job": []}
    try:
        for _ in range(args.rounds):
            for name in ("floor", "job"):
                await raw.execute(REOPEN)
                now = datetime.now(UTC)
                wall, cpu = time.perf_counter(), time.process_time()
                if name == "floor":
                    done = await floor(raw, now - timedelta(hours=24), now)
                else:
                    done = (await abandon_carts(uow, program, now)).carts
                timings[name].append((time.perf_counter() - wall, time.process_time() - cpu))
                assert done == args.carts, (name, done)
    finally:
        await close_database(db)
        await raw.close()
    load = os.getloadavg()
    print(f"{args.carts:,} due carts, demo rules, {args.rounds} rounds alternating; load average {load[0]:.1f}")
    medians = {}
    for name, runs in timings.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        medians[name] = wall
        print(
            f"{name:>5}: median {wall:,.2f} s ({args.carts / wall:,.0f} carts/s),"
            f" this process's CPU {cpu / args.carts * 1000:.2f} ms per cart"
        )
    print(f"job at {medians['floor'] / medians['job']:.2f} of the floor's speed")


if __name__ == "__main__":
    asyncio.run(main())
