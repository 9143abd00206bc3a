"""CPU per evaluateCart, in process: the steadier figure to compare changes by.

    .venv/bin/python bench/bench_evaluate_cart_cpu.py [--database-url URL] [--database-name NAME]
        [--carts 1000] [--runs 5] [--clients 4] [--profile FILE]

The bench of bench_evaluate_cart.py (the realistic 5,000-rule program, 10-line carts, the
same query and customers) driven through the whole ASGI app without sockets, `--clients`
requests in flight, as a `loyalty serve` worker runs it (production mode, JSON log lines
written to nowhere, the worker's garbage-collector settings). Prints this process's CPU
per cart, best and median of the runs, beside `Program.evaluate_order` alone (the floor),
and the garbage collector's pauses during the runs. `--profile FILE` writes a cProfile of
one more run (pstats format), to read with `python -m pstats FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.asgi_post import graphql_post  # noqa: E402
from bench.bench_evaluate_cart import carts_and_program  # noqa: E402
from bench.bench_record_order import ensure_database  # noqa: E402

KEY = "bench-cart-cpu-" + uuid.uuid4().hex
NOWHERE = open(os.devnull, "w")  # noqa: SIM115 -- the log lines' stream, for the life of the bench


def asgi_caller(app, bodies: list[bytes]):
    post = graphql_post(app, KEY)

    async def one(n: int) -> bytes:
        return await post(bodies[n % len(bodies)])

    return one


async def measure(one, clients: int, total: int) -> float:
    """Process CPU seconds per call, `total` calls with `clients` in flight."""
    budget = iter(range(total))

    async def client() -> None:
        for n in budget:
            answer = json.loads(await one(n))
            if answer.get("errors") or answer["data"]["evaluateCart"]["errors"]:
                raise RuntimeError(answer)

    start = time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    return (time.process_time() - start) / total


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default="loyalty_bench_cart")
    parser.add_argument("--rules", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--carts", type=int, default=1000, help="requests per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--profile", help="write a cProfile of one more run to this file")
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    url = await ensure_database(args.database_url, args.database_name)
    sources, cases, bodies = await carts_and_program(url, args.rules, args.lines)

    folder = tempfile.mkdtemp(prefix="bench-cart-cpu-rules-")
    for name, text in sources.items():
        Path(folder, name).write_text(text)
    os.environ.update(
        LOYALTY_DATABASE_URL=url.replace("postgresql://", "postgres://"),
        LOYALTY_BOOTSTRAP_API_KEY=KEY,
        LOYALTY_ENV="production",
        LOYALTY_RULES_DIR=folder,
        LOYALTY_LOG_FORMAT="json",
    )
    from api.app import create_app
    from app.logging_setup import configure

    configure("json", stream=NOWHERE)
    app = create_app(watch_rules=False, serving_process=True)
    pauses: list[tuple[int, float, float]] = []  # generation, wall ms, CPU ms
    started: list[tuple[float, float]] = []

    def collector(phase: str, info: dict) -> None:
        if phase == "start":
            started.append((time.perf_counter(), time.thread_time()))
        elif started:
            wall, cpu = started.pop()
            pauses.append((info["generation"], (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000))

    api_cpu: list[float] = []
    floor_cpu: list[float] = []
    async with contextlib.AsyncExitStack() as running:
        await running.enter_async_context(app.router.lifespan_context(app))
        one = asgi_caller(app, bodies)
        program = app.state.services.program if hasattr(app.state, "services") else None
        await measure(one, args.clients, 400)  # warm up: the rulesets' engine state, the caches
        gc.callbacks.append(collector)
        for _ in range(args.runs):
            api_cpu.append(await measure(one, args.clients, args.carts))
            if program is not None:
                start = time.process_time()
                for n in range(args.carts):
                    customer, order = cases[n % len(cases)]
                    program.evaluate_order(customer, order, datetime.now(UTC), trace=False)
                floor_cpu.append((time.process_time() - start) / args.carts)
        gc.callbacks.remove(collector)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await measure(one, args.clients, args.carts)
            profiler.disable()
            profiler.dump_stats(args.profile)
    ours = sorted(x * 1000 for x in api_cpu)
    print(f"CPU per evaluateCart in this process, {args.runs} runs of {args.carts} ({args.clients} in flight):")
    every = " ".join(f"{x:.3f}" for x in ours)
    print(f"  through the app: best {ours[0]:.3f} ms, median {statistics.median(ours):.3f} ms ({every})")
    if floor_cpu:
        floor = sorted(x * 1000 for x in floor_cpu)
        print(
            f"  floor (Program.evaluate_order): best {floor[0]:.3f} ms, median {statistics.median(floor):.3f} ms;"
            f" the app's best is {ours[0] / floor[0]:.2f} x the floor's (the load shifts both alike)"
        )
    for generation in sorted({g for g, _, _ in pauses}):
        cpus = [cpu for g, _, cpu in pauses if g == generation]
        walls = [wall for g, wall, _ in pauses if g == generation]
        print(
            f"  garbage collections of generation {generation} during the runs: {len(cpus)},"
            f" CPU median {statistics.median(cpus):.2f} ms, longest {max(cpus):.2f} ms (wall {max(walls):.1f} ms)"
        )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    try:
        import uvloop  # as `loyalty serve` runs (uvicorn's loop="auto"), so CPU is counted alike
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
