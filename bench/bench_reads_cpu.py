"""CPU per storefront read (`me`, `customer`), in process: the steadier figure to compare
changes to the read path by.

The same database and queries as bench_reads.py (run that once first: it loads the
million entries), the whole ASGI app driven without sockets, 16 requests in flight, on
uvloop with the collector tuned as `loyalty serve` runs it; beside it the floor, the
same two statements on raw asyncpg in this process. Best of several runs. `--profile
FILE` writes a cProfile of the app's side (one run per case) to FILE.<case>.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.asgi_post import graphql_post  # noqa: E402
from bench.bench_reads import BIG, ME, SECRET, SMALL, customer_query, raw_read  # noqa: E402
from bench.bench_record_order import ensure_database, floor_pool  # noqa: E402
from bench.bench_record_order_cpu import KEY, NOWHERE, measure  # noqa: E402


def asgi_reader(app, credential: str, body: bytes, name: str):
    post = graphql_post(app, credential)

    async def one(index: int, n: int) -> None:
        answer = json.loads(await post(body))
        if answer.get("errors") or not answer["data"][name]["ledger"]["edges"]:
            raise RuntimeError(answer)

    return one


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_reads", help="as loaded by bench_reads.py")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--profile", help="write a cProfile of each case's app side to PROFILE.<case>")
    parser.add_argument("--cases", default="me-200000,me-10,customer", help="which, comma-separated")
    args = parser.parse_args()

    url = await ensure_database(args.database_url, args.database_name)
    os.environ.update(
        LOYALTY_DATABASE_URL=url.replace("postgresql://", "postgres://"),
        LOYALTY_BOOTSTRAP_API_KEY=KEY,
        LOYALTY_ENV="production",
        LOYALTY_TOKEN_SECRET=SECRET,
        LOYALTY_SCHEDULER="off",
    )
    from api.app import create_app
    from app.credentials import CustomerTokens
    from app.logging_setup import configure

    configure("json", stream=NOWHERE)
    app = create_app(watch_rules=False, serving_process=True)
    tokens = CustomerTokens(SECRET, 3600)
    cases = [
        ("me-200000", BIG, tokens.issue(BIG).token, ME, "me"),
        ("me-10", SMALL, tokens.issue(SMALL).token, ME, "me"),
        ("customer", BIG, KEY, customer_query(BIG), "customer"),
    ]
    cases = [case for case in cases if case[0] in args.cases.split(",")]
    pool = await floor_pool(url, args.clients)
    results = []
    async with contextlib.AsyncExitStack() as running:
        await running.enter_async_context(app.router.lifespan_context(app))
        for label, external_id, credential, body, name in cases:
            raw = raw_read(pool, external_id)
            api = asgi_reader(app, credential, body, name)
            await measure(raw, args.clients, 300)
            await measure(api, args.clients, 300)
            floor_cpu, api_cpu = [], []
            for _ in range(args.runs):
                floor_cpu.append(await measure(raw, args.clients, args.reads))
                api_cpu.append(await measure(api, args.clients, args.reads))
            if args.profile:
                profile = cProfile.Profile(time.process_time)
                profile.enable()
                await measure(api, args.clients, args.reads)
                profile.disable()
                profile.dump_stats(f"{args.profile}.{label}")
            results.append((label, min(floor_cpu) * 1000, min(api_cpu) * 1000, sorted(api_cpu)))
    await pool.close()
    print(f"CPU per read in this process, best of {args.runs} runs of {args.reads} ({args.clients} in flight):")
    for label, floor, ours, runs in results:
        spread = ", ".join(f"{r * 1000:.3f}" for r in runs)
        print(f"  {label:10} floor {floor:.3f} ms, app {ours:.3f} ms ({ours / floor:.1f}x the floor; runs {spread})")


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
