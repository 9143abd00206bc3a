"""recordOrder throughput when every order draws on program-wide counters (a campaign's
per-customer limit, program cap and budget in money, and a rule's own cap), beside the
same server recording ordinary orders in the same run.

    .venv/bin/python bench/bench_limits.py [--database-url URL] [--database-name NAME]
                                           [--seconds 5] [--rounds 3] [--clients 16] [--workers 1]

The limited orders carry coupon BENCHCAP: the recording takes the customer's lock, then
the counters' rows (`rule_budgets`, FOR UPDATE, in key order), evaluates again with their
figures and appends the uses. Every such order of every customer waits for the same rows,
so this is the cost of a limit shared across the program, which no index can spread. The
floor: ordinary orders (no limited rule applies) on the same server, rounds alternating.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_record_order import (  # noqa: E402
    RECORD,
    HttpClient,
    api_server,
    arguments,
    cpu_seconds,
    ensure_database,
    percentile,
    prepare,
    run_for,
)

LIMITS = """
campaigns:
  - id: bench-campaign
    limit: {per_customer: 1000000, total: 2000000000}
    budget: {amount: "1000000000"}
rules:
  - id: bench-capped-discount
    campaign: bench-campaign
    when: {order: {coupon: BENCHCAP}}
    then: {discount: {amount: 1}}
  - id: bench-capped-points
    limit: {total: 2000000000}
    when: {order: {coupon: BENCHCAP}}
    then: {points: {fixed: 5}}
"""


def orders(port: int, clients: int, customers: list[str], coupons: list[str]):
    conns = [HttpClient(port) for _ in range(clients)]
    run = uuid.uuid4().hex[:8]

    async def one(index: int, n: int) -> None:
        order = {
            "externalId": f"lim-{run}-{index}-{n}",
            "customerExternalId": customers[index],
            "currency": "EUR",
            "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": "50.00"}],
            "couponCodes": coupons,
        }
        answer = json.loads(
            await conns[index].post(json.dumps({"query": RECORD, "variables": {"input": order}}).encode())
        )
        if answer.get("errors") or answer["data"]["recordOrder"]["errors"]:
            raise RuntimeError(answer)

    return one


async def main() -> None:
    args = arguments(__doc__, "loyalty_bench_limits")
    folder = Path(tempfile.mkdtemp(prefix="bench-limits-rules-"))
    shutil.copytree(Path(__file__).resolve().parents[1] / "rules" / "demo", folder, dirs_exist_ok=True)
    (folder / "bench_limits.yaml").write_text(LIMITS)
    os.environ["LOYALTY_RULES_DIR"] = str(folder)
    url = await ensure_database(args.database_url, args.database_name)
    customers = await prepare(url, args.clients)
    print(
        f"recordOrder on PostgreSQL, {args.clients} clients, {args.workers} worker(s), {args.rounds} rounds"
        f" of {args.seconds:.0f} s: ordinary orders (the floor), then orders on program-wide counters"
    )
    ratios = []
    async with api_server(url, args.workers) as (server, port):
        plain = orders(port, args.clients, customers, [])
        limited = orders(port, args.clients, customers, ["BENCHCAP"])
        for warm in (plain, limited):
            await run_for(1.0, args.clients, warm)
        for number in range(1, args.rounds + 1):
            figures = {}
            for name, one in [("plain", plain), ("limited", limited)][:: 1 if number % 2 else -1]:
                before = cpu_seconds(server.pid)
                count, latencies = await run_for(args.seconds, args.clients, one)
                cpu = (cpu_seconds(server.pid) - before) / count * 1000
                figures[name] = (count / args.seconds, percentile(latencies, 0.5), percentile(latencies, 0.99), cpu)
            ratios.append(figures["limited"][0] / figures["plain"][0])
            print(
                f"  round {number}: "
                + "; ".join(
                    f"{name} {rate:5.0f} orders/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms, server CPU {cpu:.2f} ms/order)"
                    for name, (rate, p50, p99, cpu) in figures.items()
                )
                + f"; ratio {ratios[-1]:.2f}"
            )
    shutil.rmtree(folder, ignore_errors=True)
    print(f"  median ratio: {statistics.median(ratios):.2f} of the ordinary orders' throughput")


if __name__ == "__main__":
    asyncio.run(main())
