"""evaluateCart over HTTP (issue 10): a 10-line cart on the realistic 5,000-rule program.

    .venv/bin/python bench/bench_evaluate_cart.py [--database-url URL] [--database-name NAME]
        [--rules 5000] [--lines 10] [--seconds 5] [--rounds 3] [--workers 1]

`loyalty serve` with one uvicorn worker on PostgreSQL, its rules folder the realistic mix of
bench/realistic_rules.py (about a quarter of its rules name no sku or category: spend bands,
tiers, date windows, coupons), date windows spread around today. Customers are enrolled
with the tiers, tags, spend and history of the generated carts. Each round measures, in
turn:
- the floor: the same carts and customers through `Program.evaluate_order` in this process
  (what the dry run costs with no HTTP, GraphQL or database), CPU per cart and carts/s;
- 4 concurrent clients: evaluateCart's p50 and p99 (target p99 < 10 ms);
- 16 concurrent clients: evaluateCart's throughput, beside the floor's.
The server's CPU per request is read from /proc. Before timing, every cart's pointsToEarn
over HTTP is compared with the floor's answer for it; the run exits 1 if any differ.
Uses its own database (`--database-name`, created if missing; customers are added per run).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import realistic_rules  # noqa: E402
from bench.bench_record_order import (  # noqa: E402
    HttpClient,
    api_server,
    cpu_seconds,
    ensure_database,
    percentile,
    run_for,
)

CARTS = 200
QUERY = (
    "query($input: EvaluateCartInput!) { evaluateCart(input: $input) { pointsToEarn"
    " freeShipping { eligible remaining { amount currency } } suggestions { sku ruleId }"
    " appliedRules { ruleId } errors { code message } } }"
)


def cart_body(customer: str, order) -> bytes:
    lines = [
        {
            "sku": line.sku,
            "quantity": line.quantity,
            "unitPrice": str(line.unit_price),
            "category": line.category,
            "tags": sorted(line.tags),
        }
        for line in order.lines
    ]
    variables = {
        "input": {
            "customerExternalId": customer,
            "currency": order.currency,
            "lines": lines,
            "couponCodes": sorted(order.coupon_codes),
            "country": order.country,
        }
    }
    return json.dumps({"query": QUERY, "variables": variables}).encode()


async def carts_and_program(url: str, rules: int, lines: int) -> tuple[dict[str, str], list, list[bytes]]:
    """The realistic program's rule files (windows around now), its customers enrolled in
    the database at `url`, and for each cart: (customer, order) as the floor evaluates it,
    and the evaluateCart body the server answers."""
    now = datetime.now(UTC)
    sources = realistic_rules.generate(rules, now=now)
    cases = realistic_rules.orders(CARTS, rules, lines, now=now)
    enrolled = now - timedelta(days=1000)
    ids = await enrol(url, cases, enrolled)
    # The floor sees each customer as the server reads it back from its row.
    cases = [
        (dataclasses.replace(customer, external_id=external_id, enrolled_at=enrolled), order)
        for external_id, (customer, order) in zip(ids, cases, strict=True)
    ]
    bodies = [cart_body(external_id, order) for external_id, (_, order) in zip(ids, cases, strict=True)]
    return sources, cases, bodies


async def enrol(url: str, cases: list, enrolled: datetime) -> list[str]:
    """The carts' customers as rows, with the facts the generated carts give them."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from persistence.database import migrate

    await migrate(url.replace("postgresql://", "postgres://"))
    run = uuid.uuid4().hex[:8]
    ids = [f"cart-{run}-{n}" for n in range(len(cases))]
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "INSERT INTO customers (external_id, email, tags, tier, points_available, points_pending,"
            " lifetime_earned, lifetime_spend, order_count, last_order_at, birthday, enrolled_at)"
            " VALUES ($1::text, $1::text || '@example.com', $2, $3, 0, 0, 0, $4, $5, $6, $7, $8)",
            [
                (
                    external_id,
                    json.dumps(sorted(customer.tags)),
                    customer.tier,
                    customer.lifetime_spend,
                    customer.order_count,
                    customer.last_order_at,
                    customer.birthday,
                    enrolled,
                )
                for external_id, (customer, _) in zip(ids, cases, strict=True)
            ],
        )
    finally:
        await conn.close()
    return ids


def floor_round(program, cases: list, seconds: float) -> tuple[list[float], float]:
    """CPU ms per cart of the in-process dry run, and carts per second of wall time."""
    cpus: list[float] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    n = 0
    while time.perf_counter() < deadline:
        customer, order = cases[n % len(cases)]
        cpu = time.thread_time_ns()
        program.evaluate_order(customer, order, datetime.now(UTC), trace=False)
        cpus.append((time.thread_time_ns() - cpu) / 1e6)
        n += 1
    return cpus, n / (time.perf_counter() - started)


def over_http(port: int, clients: int, bodies: list[bytes]):
    conns = [HttpClient(port) for _ in range(clients)]

    async def one(index: int, n: int) -> None:
        answer = json.loads(await conns[index].post(bodies[n % len(bodies)]))
        if answer.get("errors") or answer["data"]["evaluateCart"]["errors"]:
            raise RuntimeError(answer)

    return one


async def check_answers(port: int, bodies: list[bytes], expected: list[int]) -> int:
    """Carts whose pointsToEarn over HTTP differs from the in-process dry run's."""
    client = HttpClient(port)
    wrong = 0
    for body, points in zip(bodies, expected, strict=True):
        answer = json.loads(await client.post(body))
        got = answer["data"]["evaluateCart"]
        if got["errors"] or got["pointsToEarn"] != points:
            wrong += 1
            if wrong <= 3:
                print(f"  differs: expected {points} points, got {got}", file=sys.stderr)
    return wrong


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_cart")
    parser.add_argument("--rules", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    from rules import load_program_from_sources

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    url = await ensure_database(args.database_url, args.database_name)
    sources, cases, bodies = await carts_and_program(url, args.rules, args.lines)
    program = load_program_from_sources(sources)
    print(
        f"evaluateCart on PostgreSQL: {len(program.rules):,} rules (realistic mix), {args.lines}-line carts,"
        f" {args.workers} worker(s), {args.rounds} rounds of {args.seconds:.0f} s per measurement"
    )
    expected = [
        sum(a.points for a in program.evaluate_order(c, o, datetime.now(UTC), trace=False).awards) for c, o in cases
    ]
    with tempfile.TemporaryDirectory(prefix="bench-cart-rules-") as folder:
        for name, text in sources.items():
            Path(folder, name).write_text(text)
        async with api_server(url, args.workers, env={"LOYALTY_RULES_DIR": folder}) as (server, port):
            wrong = await check_answers(port, bodies, expected)
            print(f"  answers that differ from the in-process dry run: {wrong} of {len(bodies)}")
            four, sixteen = over_http(port, 4, bodies), over_http(port, 16, bodies)
            await run_for(1.0, 16, sixteen)  # warm up: every ruleset's engine state, connections
            floor_round(program, cases, 1.0)
            p99s, rates, ratios = [], [], []
            for number in range(1, args.rounds + 1):
                cpus, floor_rate = floor_round(program, cases, args.seconds)
                cpu_before = cpu_seconds(server.pid)
                count, latencies = await run_for(args.seconds, 4, four)
                cpu_per_request = (cpu_seconds(server.pid) - cpu_before) / count * 1000
                count16, _ = await run_for(args.seconds, 16, sixteen)
                rate = count16 / args.seconds
                p99s.append(percentile(latencies, 0.99))
                rates.append(rate)
                ratios.append(rate / floor_rate)
                print(
                    f"  round {number}: floor (in process) CPU p50 {statistics.median(cpus):.2f} ms,"
                    f" p99 {percentile([c / 1000 for c in cpus], 0.99):.2f} ms, {floor_rate:,.0f} carts/s;"
                    f" HTTP 4 clients p50 {percentile(latencies, 0.5):.1f} ms, p99 {p99s[-1]:.1f} ms"
                    f" (server CPU {cpu_per_request:.2f} ms/request);"
                    f" 16 clients {rate:,.0f} carts/s ({ratios[-1]:.2f} of the floor)"
                )
    print(
        f"  medians: p99 with 4 clients {statistics.median(p99s):.1f} ms [target < 10 ms];"
        f" 16 clients {statistics.median(rates):,.0f} carts/s, {statistics.median(ratios):.2f} of the floor"
    )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    asyncio.run(main())
