"""recordOrder throughput over HTTP against the same transaction in raw asyncpg.

Both sides write the same rows per order on the same PostgreSQL database: find the
customer, insert the order and its ledger entry, update the balance. The HTTP side adds
what clients really pay for: HTTP, auth, GraphQL, validation, the rules engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
LOG = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)  # noqa: SIM115
SEQUENCE = itertools.count()
POOL = os.environ.get("BENCH_POOL", "")
# unique order ids across warm-up and measured runs
KEY = "bench-key-" + uuid.uuid4().hex
RECORD = "mutation($input: RecordOrderInput!) { recordOrder(input: $input) { pointsEarned errors { code message } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def ensure_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def run_for(seconds: float, clients: int, one) -> tuple[int, list[float]]:
    """Each client loops on `one(client_index, n)` until time is up; returns count, latencies."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def client(index: int) -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await one(index, next(SEQUENCE))
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return len(latencies), latencies


async def _keep_session(connection: asyncpg.Connection) -> None:
    pass


async def floor_pool(url: str, clients: int) -> asyncpg.Pool:
    """The floor's connections, released as the service releases its own: without
    asyncpg's reset query (see persistence.database), so neither side pays that trip."""
    return await asyncpg.create_pool(url, min_size=clients, max_size=clients, reset=_keep_session)


async def raw_transaction(pool: asyncpg.Pool, customers: list[str]):
    """The same transaction, hand-written on asyncpg: the fastest this write can be."""
    run = uuid.uuid4().hex[:8]

    async def one(index: int, n: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            customer = await conn.fetchrow(
                "SELECT id, points_available FROM customers WHERE external_id = $1 FOR UPDATE",
                customers[index],
            )
            now = time.time()
            order_id = await conn.fetchval(
                "INSERT INTO orders (external_id, customer_id, currency, placed_at, subtotal,"
                " shipping_amount, coupon_codes, points_earned, rules_version, request_hash, created_at)"
                " VALUES ($1, $2, 'EUR', to_timestamp($3), $4, 0, '[]', 100, 'raw', 'raw', to_timestamp($3))"
                " RETURNING id",
                f"raw-{run}-{index}-{n}",
                customer["id"],
                now,
                Decimal("100.00"),
            )
            await conn.execute(
                "INSERT INTO ledger_entries (customer_id, kind, bucket, points, reason, rule_id,"
                " rules_version, order_id, created_at) VALUES ($1, 'earn', 'available', 100, 'raw',"
                " 'base', 'raw', $2, to_timestamp($3))",
                customer["id"],
                order_id,
                now,
            )
            await conn.execute(
                "UPDATE customers SET points_available = points_available + 100,"
                " lifetime_earned = lifetime_earned + 100 WHERE id = $1",
                customer["id"],
            )

    return one


class _Answers(asyncio.Protocol):
    """One keep-alive connection's bytes, handed over one whole response at a time: the
    client wakes once per answer, however the server's writes split it (uvicorn writes the
    head and the body separately)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: asyncio.Future[tuple[bytes, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiting is None:
            return
        head = bytes(self.buffer[:end])
        length = _content_length(head)
        if len(self.buffer) < end + 4 + length:
            return
        payload = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        waiting, self.waiting = self.waiting, None
        waiting.set_result((head, payload))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ConnectionResetError("the server closed the connection"))


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    return 0


class HttpClient:
    """A lean keep-alive HTTP/1.1 client, so the load generator spends little of the CPU
    that the server under test shares with it: the request's bytes in one write, the
    answer read by a protocol that wakes the caller once per response."""

    def __init__(self, port: int, credential: str = KEY):
        self.port = port
        self.head = (
            b"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + credential.encode() + b"\r\nContent-Length: "
        )
        self.answers: _Answers | None = None

    async def post(self, body: bytes) -> bytes:
        reused = self.answers is not None and not self.answers.closed
        try:
            return await self._post(body)
        except ConnectionResetError:
            if not reused:
                raise
            # The server closed a connection left idle (uvicorn keeps them 5 s): reconnect.
            self.answers = None
            return await self._post(body)

    async def _post(self, body: bytes) -> bytes:
        if self.answers is None or self.answers.closed:
            loop = asyncio.get_running_loop()
            _, self.answers = await loop.create_connection(_Answers, "127.0.0.1", self.port)
        answers = self.answers
        assert answers.transport is not None
        answers.waiting = asyncio.get_running_loop().create_future()
        answers.transport.write(b"%s%d\r\n\r\n%s" % (self.head, len(body), body))
        head, payload = await answers.waiting
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head + payload)
        return payload


@contextlib.asynccontextmanager
async def api_server(url: str, workers: int, observed: bool = True, env: dict[str, str] | None = None):
    """`loyalty serve` on the bench database, as production runs it (`observed`: with the
    request metrics and the per-request log line, which production keeps on; `env`: more
    settings, such as LOYALTY_RULES_DIR)."""
    port = free_port()
    switch = "on" if observed else "off"
    env = {
        **os.environ,
        **(env or {}),
        "LOYALTY_DATABASE_URL": url.replace("postgresql://", "postgres://") + POOL,
        "LOYALTY_BOOTSTRAP_API_KEY": KEY,
        "LOYALTY_ENV": "production",
        "LOYALTY_LOG_FORMAT": "json",
        "LOYALTY_METRICS": switch,
        "LOYALTY_ACCESS_LOG": switch,
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/loyalty"), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=LOG,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(600):  # a large rules program takes seconds to load on a loaded machine
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}")
            try:
                await HttpClient(port).post(b'{"query":"{ __typename }"}')
                break
            except OSError:
                await asyncio.sleep(0.1)
        yield server, port
    except Exception:
        print(Path(LOG.name).read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def order_body(order_id: str, customer: str) -> bytes:
    return json.dumps(
        {
            "query": RECORD,
            "variables": {
                "input": {
                    "externalId": order_id,
                    "customerExternalId": customer,
                    "currency": "EUR",
                    "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": "50.00"}],
                }
            },
        }
    ).encode()


def record_order_over_http(port: int, clients: int, customers: list[str]):
    conns = [HttpClient(port) for _ in range(clients)]
    run = uuid.uuid4().hex[:8]
    # Each client's body made once around a marker, so an order costs the client a join
    # (the ids are plain ASCII: JSON needs no escaping for them).
    marker = "\u2603"
    bodies = [order_body(marker, customer).split(json.dumps(marker).strip('"').encode()) for customer in customers]

    async def one(index: int, n: int) -> None:
        before, after = bodies[index]
        answer = json.loads(await conns[index].post(b"%sapi-%s-%d-%d%s" % (before, run.encode(), index, n, after)))
        if answer.get("errors") or answer["data"]["recordOrder"]["errors"]:
            raise RuntimeError(answer)

    return one


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the uvicorn workers)."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        with open(f"/proc/{proc}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def percentile(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def prepare(url: str, clients: int) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from persistence.database import migrate

    await migrate(url.replace("postgresql://", "postgres://"))
    conn = await asyncpg.connect(url)
    run = uuid.uuid4().hex[:8]
    customers = [f"bench-{run}-{i}" for i in range(clients)]
    await conn.executemany(
        "INSERT INTO customers (external_id, email, tags, points_available, points_pending,"
        " lifetime_earned, lifetime_spend, order_count, enrolled_at)"
        " VALUES ($1::text, $1::text || '@example.com', '[]', 0, 0, 0, 0, 0, now())",
        [(c,) for c in customers],
    )
    await conn.close()
    return customers


async def set_up(args: argparse.Namespace, rounds: str):
    """The bench database, its customers, and the floor's pool and transaction."""
    url = await ensure_database(args.database_url, args.database_name)
    customers = await prepare(url, args.clients)
    print(
        f"recordOrder on PostgreSQL: {args.clients} clients, {args.workers} worker(s),"
        f" {args.rounds} rounds of {args.seconds:.0f} s each {rounds}"
    )
    pool = await floor_pool(url, args.clients)
    return url, customers, pool, await raw_transaction(pool, customers)


def arguments(description: str | None, database_name: str, *, observability: bool = False) -> argparse.Namespace:
    """The options of the HTTP benchmarks that alternate a floor and the API."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database-name", default=database_name, help="created on that server and used")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="floor and API alternate this many times")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    if observability:
        parser.add_argument(
            "--observability",
            choices=["on", "off", "both"],
            default="on",
            help="request metrics and log lines; both: a server with them and one without, measured in turn",
        )
    return parser.parse_args()


async def main() -> None:
    args = arguments(__doc__, "loyalty_bench", observability=True)
    if args.observability == "both":
        await compare_observability(args)
        return

    url, customers, pool, raw = await set_up(args, "for the floor and the API")
    ratios = []
    async with api_server(url, args.workers, observed=args.observability == "on") as (server, port):
        api = record_order_over_http(port, args.clients, customers)
        await run_for(1.0, args.clients, raw)  # warm up both: caches, connections
        await run_for(1.0, args.clients, api)
        if os.environ.get("BENCH_PROFILE"):  # a py-spy profile of the server, for digging in
            profile = ["py-spy", "record", "-d", "20", "-r", "200", "-f", "raw", "-o", os.environ["BENCH_PROFILE"]]
            subprocess.Popen([*profile, "-p", str(server.pid)])
        # Alternating rounds, because a 2-core machine's background load shifts both
        # figures by a quarter from one run to the next; the median ratio is the figure.
        for number in range(1, args.rounds + 1):
            client_before = time.process_time()
            floor_count, _ = await run_for(args.seconds, args.clients, raw)
            floor_client = (time.process_time() - client_before) / floor_count * 1000
            cpu_before, client_before = cpu_seconds(server.pid), time.process_time()
            api_count, latencies = await run_for(args.seconds, args.clients, api)
            cpu_per_order = (cpu_seconds(server.pid) - cpu_before) / api_count * 1000
            api_client = (time.process_time() - client_before) / api_count * 1000
            floor_rate, api_rate = floor_count / args.seconds, api_count / args.seconds
            ratios.append(api_rate / floor_rate)
            print(
                f"  round {number}: floor (raw asyncpg) {floor_rate:6.0f} orders/s;"
                f" recordOrder over HTTP {api_rate:6.0f} orders/s"
                f" (p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms,"
                f" server CPU {cpu_per_order:.2f} ms/order);"
                f" ratio {ratios[-1]:.2f}"
                f" [this client's CPU per order: floor {floor_client:.2f} ms, API {api_client:.2f} ms]"
            )
    await pool.close()
    print(f"  median ratio: {statistics.median(ratios):.2f} of the floor (target >= 0.35)")


async def compare_observability(args: argparse.Namespace) -> None:
    """What the request metrics and the log line cost: rounds of the floor, the service with
    them and the service without them, each against the floor of its round."""
    url, customers, pool, raw = await set_up(args, "for the floor, then with metrics and request log and without")
    on_ratios, off_ratios = [], []
    async with (
        api_server(url, args.workers, observed=True) as (_, on_port),
        api_server(url, args.workers, observed=False) as (_, off_port),
    ):
        with_them = record_order_over_http(on_port, args.clients, customers)
        without = record_order_over_http(off_port, args.clients, customers)
        for warm in (raw, with_them, without):
            await run_for(1.0, args.clients, warm)
        for number in range(1, args.rounds + 1):
            # Each round measures in a new order, so a drift of the machine's load does
            # not always fall on the same side.
            sides = [("on", with_them), ("off", without)][:: 1 if number % 2 else -1]
            floor_rate = (await run_for(args.seconds, args.clients, raw))[0] / args.seconds
            rates = {}
            for name, one in sides:
                rates[name] = (await run_for(args.seconds, args.clients, one))[0] / args.seconds
            on_ratios.append(rates["on"] / floor_rate)
            off_ratios.append(rates["off"] / floor_rate)
            print(
                f"  round {number}: floor {floor_rate:6.0f} orders/s; with metrics and log {rates['on']:6.0f}"
                f" ({on_ratios[-1]:.2f} of the floor); without {rates['off']:6.0f} ({off_ratios[-1]:.2f})"
            )
    await pool.close()
    on, off = statistics.median(on_ratios), statistics.median(off_ratios)
    print(
        f"  median ratio to the floor: {on:.2f} with, {off:.2f} without;"
        f" they cost {(1 - on / off) * 100:.1f}% of throughput (target < 10%)"
    )


if __name__ == "__main__":
    asyncio.run(main())
