"""CPU per recordOrder, in process: the steadier figure to compare changes by.

Wall-clock throughput on a shared 2-core machine swings by a quarter between runs; CPU
time spent in this process per order swings far less, and its minimum over a few runs
less still. Both sides run here on the same PostgreSQL database: the floor is the raw
asyncpg transaction of bench_record_order.py, the other side the whole ASGI app (auth,
GraphQL, rules, the write) driven without sockets, 16 requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.asgi_post import graphql_post  # noqa: E402
from bench.bench_record_order import (  # noqa: E402
    RECORD,
    SEQUENCE,
    ensure_database,
    floor_pool,
    prepare,
    raw_transaction,
)

KEY = "bench-cpu-" + uuid.uuid4().hex
NOWHERE = open(os.devnull, "w")  # noqa: SIM115 -- the log lines' stream, for the life of the bench


async def measure(one, clients: int, total: int) -> float:
    """Process CPU seconds per call, `total` calls with `clients` in flight."""
    budget = iter(range(total))

    async def client(index: int) -> None:
        for _ in budget:
            await one(index, next(SEQUENCE))

    start = time.process_time()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return (time.process_time() - start) / total


def asgi_caller(app, customers: list[str]):
    run = uuid.uuid4().hex[:8]
    post = graphql_post(app, KEY)

    async def one(index: int, n: int) -> None:
        body = json.dumps(
            {
                "query": RECORD,
                "variables": {
                    "input": {
                        "externalId": f"cpu-{run}-{n}",
                        "customerExternalId": customers[index],
                        "currency": "EUR",
                        "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": "50.00"}],
                    }
                },
            }
        ).encode()
        answer = json.loads(await post(body))
        if answer.get("errors") or answer["data"]["recordOrder"]["errors"]:
            raise RuntimeError(answer)

    return one


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench", help="created on that server and used")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--observability",
        action="store_true",
        help="also the app without request metrics and log lines, to show what they cost",
    )
    args = parser.parse_args()

    url = await ensure_database(args.database_url, args.database_name)
    customers = await prepare(url, args.clients)
    os.environ.update(
        LOYALTY_DATABASE_URL=url.replace("postgresql://", "postgres://"),
        LOYALTY_BOOTSTRAP_API_KEY=KEY,
        LOYALTY_ENV="production",
    )
    from api.app import create_app
    from app.logging_setup import configure

    # As `loyalty serve` logs: JSON lines, written (to nowhere, so the disk is not measured).
    configure("json", stream=NOWHERE)
    # As a `loyalty serve` worker runs it (app/gc_tuning.py): the process is the server's.
    app = create_app(watch_rules=False, serving_process=True)
    os.environ.update(LOYALTY_METRICS="off", LOYALTY_ACCESS_LOG="off")
    bare = create_app(watch_rules=False, serving_process=True) if args.observability else None
    pool = await floor_pool(url, args.clients)
    raw = await raw_transaction(pool, customers)
    floor_cpu: list[float] = []
    api_cpu: list[float] = []
    bare_cpu: list[float] = []
    async with contextlib.AsyncExitStack() as running:
        await running.enter_async_context(app.router.lifespan_context(app))
        api = asgi_caller(app, customers)
        sides = [(raw, floor_cpu), (api, api_cpu)]
        if bare is not None:
            await running.enter_async_context(bare.router.lifespan_context(bare))
            sides.append((asgi_caller(bare, customers), bare_cpu))
        for one, _ in sides:
            await measure(one, args.clients, 300)
        for _ in range(args.runs):
            for one, figures in sides:
                figures.append(await measure(one, args.clients, args.orders))
    await pool.close()
    floor, ours = min(floor_cpu) * 1000, min(api_cpu) * 1000
    print(f"CPU per order in this process, best of {args.runs} runs of {args.orders} ({args.clients} in flight):")
    print(f"  floor (raw asyncpg transaction): {floor:.3f} ms")
    print(f"  recordOrder through the app:     {ours:.3f} ms   ({ours / floor:.1f}x the floor)")
    if bare_cpu:
        without = min(bare_cpu) * 1000
        cost = (ours / without - 1) * 100
        print(f"  the app without request metrics and log lines: {without:.3f} ms   ({without / floor:.1f}x the floor)")
        print(f"  metrics and log lines cost {cost:.1f}% of the app's CPU per order (target < 10%)")


if __name__ == "__main__":
    try:
        import uvloop  # as `loyalty serve` runs (uvicorn's loop="auto"), so CPU is counted alike
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
