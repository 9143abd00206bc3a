"""The storefront's reads over HTTP (`me`, `customer`) against the same SQL on raw asyncpg.

The database holds 1,000,000 ledger entries (loaded once with COPY): a customer with
200,000 of them, one with 10, and the rest spread over filler customers. Both sides read
the customer and the first page of their ledger (20 entries, each with its order's id);
the HTTP side adds what clients pay for: HTTP, auth, GraphQL. `me` is measured for both
customers, so a page's cost can be seen not to grow with a customer's history.
"""

from __future__ import annotations

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

from bench.bench_record_order import (  # noqa: E402
    KEY,
    HttpClient,
    api_server,
    arguments,
    cpu_seconds,
    ensure_database,
    floor_pool,
    percentile,
    run_for,
)

TOTAL_ENTRIES = 1_000_000
BIG, SMALL = "reads-big", "reads-small"
BIG_ENTRIES, SMALL_ENTRIES = 200_000, 10
FILLER_ENTRIES = 100  # per filler customer
SECRET = "bench-reads-token-secret-at-least-32-bytes"
PAGE = 20

FIELDS = (
    "externalId email tier { name } points { available pending lifetimeEarned }"
    f" ledger(first: {PAGE}) {{ edges {{ cursor node {{ kind points reason ruleId orderExternalId createdAt"
    " expiresAt } } pageInfo { hasNextPage endCursor } }"
)
ME = json.dumps({"query": "{ me { " + FIELDS + " } }"}).encode()


def customer_query(external_id: str) -> bytes:
    query = "query($id: String!) { customer(externalId: $id) { " + FIELDS + " } }"
    return json.dumps({"query": query, "variables": {"id": external_id}}).encode()


# The same statements the service sends (persistence/reads.py), on raw asyncpg.
CUSTOMER_SQL = (
    "SELECT external_id, email, name, birthday, tags, referral_code, tier, points_available,"
    " points_pending, lifetime_earned, lifetime_spend, order_count, last_order_at, enrolled_at"
    " FROM customers WHERE external_id = $1"
)
PAGE_SQL = (
    "SELECT e.id, e.kind, e.bucket, e.points, e.reason, e.rule_id, e.rules_version,"
    " o.external_id AS order_external_id, e.created_at, e.available_at, e.expires_at"
    " FROM ledger_entries e LEFT JOIN orders o ON o.id = e.order_id"
    " WHERE e.customer_id = (SELECT id FROM customers WHERE external_id = $1)"
    " ORDER BY e.id DESC LIMIT $2"
)


async def load(url: str) -> None:
    """Customers, orders and 1,000,000 ledger entries, by COPY; skipped when present."""
    from persistence.database import migrate

    await migrate(url.replace("postgresql://", "postgres://"))
    conn = await asyncpg.connect(url)
    try:
        present = await conn.fetchval("SELECT count(*) FROM ledger_entries")
        if present >= TOTAL_ENTRIES:
            return
        if present:
            # The ledger is append-only (it refuses DELETE and TRUNCATE): start afresh.
            raise SystemExit(f"{present:,} entries but not the bench's: drop the database and run again")
        fillers = -(-(TOTAL_ENTRIES - BIG_ENTRIES - SMALL_ENTRIES) // FILLER_ENTRIES)  # rounded up
        plan = [(BIG, BIG_ENTRIES), (SMALL, SMALL_ENTRIES)] + [
            (f"reads-filler-{n}", FILLER_ENTRIES) for n in range(fillers)
        ]
        start = datetime(2024, 1, 1, tzinfo=UTC)
        await conn.copy_records_to_table(
            "customers",
            columns=[
                "id",
                "external_id",
                "email",
                "tags",
                "tier",
                "points_available",
                "points_pending",
                "lifetime_earned",
                "lifetime_spend",
                "order_count",
                "enrolled_at",
            ],
            records=[
                (i + 1, ext, f"{ext}@example.com", "[]", "Silver", n * 10, 0, n * 10, 0, n, start)
                for i, (ext, n) in enumerate(plan)
            ],
        )
        # One order per ten entries, so that a page joins to real orders.
        orders = []
        for i, (ext, n) in enumerate(plan):
            base = len(orders)
            orders += [
                (base + k + 1, f"{ext}-o{k}", i + 1, "EUR", start, 100, 0, "[]", 100, "bench", "bench", start)
                for k in range(max(1, n // 10))
            ]
        await conn.copy_records_to_table(
            "orders",
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
            ],
            records=orders,
        )
        first_order: dict[int, int] = {}
        for order in orders:
            first_order.setdefault(order[2], order[0])

        def entries():
            # Interleaved across customers, as real traffic writes them.
            remaining = [n for _, n in plan]
            written = [0] * len(plan)
            live = list(range(len(plan)))
            while live:
                still = []
                for c in live:
                    k = written[c]
                    written[c] += 1
                    yield (
                        c + 1,
                        "earn",
                        "available",
                        10,
                        "Order",
                        "base-earn",
                        "bench",
                        first_order[c + 1] + k // 10,
                        start + timedelta(seconds=k),
                        start + timedelta(days=365),
                    )
                    if written[c] < remaining[c]:
                        still.append(c)
                live = still

        await conn.copy_records_to_table(
            "ledger_entries",
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
                "expires_at",
            ],
            records=entries(),
        )
        for table in ("customers", "orders", "ledger_entries"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def raw_read(pool: asyncpg.Pool, external_id: str):
    async def one(index: int, n: int) -> None:
        async with pool.acquire() as conn:
            await conn.fetch(CUSTOMER_SQL, external_id)
            await conn.fetch(PAGE_SQL, external_id, PAGE + 1)

    return one


def api_read(port: int, clients: int, credential: str, body: bytes, name: str):
    conns = [HttpClient(port, credential) for _ in range(clients)]

    async def one(index: int, n: int) -> None:
        answer = json.loads(await conns[index].post(body))
        if answer.get("errors") or len(answer["data"][name]["ledger"]["edges"]) == 0:
            raise RuntimeError(answer)

    return one


async def main() -> None:
    args = arguments(__doc__, "loyalty_bench_reads")

    url = await ensure_database(args.database_url, args.database_name)
    began = time.perf_counter()
    await load(url)
    print(
        f"reads on PostgreSQL ({TOTAL_ENTRIES:,} ledger entries, ready in {time.perf_counter() - began:.0f} s):"
        f" {args.clients} clients, {args.workers} worker(s), {args.rounds} rounds of {args.seconds:.0f} s each"
    )
    os.environ["LOYALTY_TOKEN_SECRET"] = SECRET
    from app.credentials import CustomerTokens

    tokens = CustomerTokens(SECRET, 3600)
    pool = await floor_pool(url, args.clients)
    cases = [
        (f"me, {BIG_ENTRIES:,} entries", BIG, tokens.issue(BIG).token, ME, "me"),
        (f"me, {SMALL_ENTRIES} entries", SMALL, tokens.issue(SMALL).token, ME, "me"),
        (f"customer, {BIG_ENTRIES:,} entries", BIG, None, customer_query(BIG), "customer"),
    ]
    summary = []
    # No scheduled jobs: the loaded entries' expiry dates are long past, and the server's
    # expiry job would work through the million of them while the reads are measured (it
    # did once, for over an hour, beside other runs: a core taken from both sides).
    async with api_server(url, args.workers, env={"LOYALTY_SCHEDULER": "off"}) as (server, port):
        for label, external_id, token, body, name in cases:
            raw = raw_read(pool, external_id)
            api = api_read(port, args.clients, token or KEY, body, name)
            await run_for(1.0, args.clients, raw)  # warm up both: caches, connections
            await run_for(1.0, args.clients, api)
            ratios, p50s = [], []
            for number in range(1, args.rounds + 1):
                floor_count, floor_latencies = await run_for(args.seconds, args.clients, raw)
                cpu_before = cpu_seconds(server.pid)
                api_count, latencies = await run_for(args.seconds, args.clients, api)
                cpu = (cpu_seconds(server.pid) - cpu_before) / api_count * 1000
                floor_rate, api_rate = floor_count / args.seconds, api_count / args.seconds
                ratios.append(api_rate / floor_rate)
                p50s.append(percentile(latencies, 0.5))
                print(
                    f"  {label}, round {number}: floor {floor_rate:6.0f}/s"
                    f" (p50 {percentile(floor_latencies, 0.5):.1f} ms);"
                    f" API {api_rate:6.0f}/s (p50 {p50s[-1]:.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms,"
                    f" server CPU {cpu:.2f} ms/request); ratio {ratios[-1]:.2f}"
                )
            summary.append((label, statistics.median(ratios), statistics.median(p50s)))
    await pool.close()
    for label, ratio, p50 in summary:
        print(f"  {label}: median ratio {ratio:.2f} of the floor (target >= 0.35), median p50 {p50:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
