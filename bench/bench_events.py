"""Reward events end to end, on PostgreSQL, against floors measured in the same run.

1. Subscription latency: a graphql-transport-ws subscriber on `loyalty serve`. First,
   raw transactions insert outbox rows as the service's writers do: the time from COMMIT
   returning to the subscriber receiving is the figure. Then clients send `adjustPoints`
   and note when they sent it and when its answer came; the event was committed between
   the two, so `received - answered` bounds that latency from below and `received - sent`
   from above. Floor: PostgreSQL's own NOTIFY
   to LISTEN latency between two raw connections (what any worker-to-worker path pays).
2. Webhook throughput: W endpoints on one local receiver, E events, so W x E signed
   deliveries; deliveries per second while the worker drains the backlog left when the
   events stop coming. Floor: the same receiver fed as many signed bodies by a bare aiohttp
   client (the worker's) in another process, at the worker's concurrency, keep-alive.

`--only latency` or `--only webhooks` runs one part; `--event-bus redis://…` runs the
server with the Redis event bus (LOYALTY_EVENT_BUS) instead of LISTEN/NOTIFY.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import websockets
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
LOG = tempfile.NamedTemporaryFile(prefix="bench-events-", suffix=".log", delete=False)  # noqa: SIM115
KEY = "bench-key-" + uuid.uuid4().hex
ADJUST = "mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) { errors { code message } } }"
ENROLL = "mutation($i: EnrollCustomerInput!) { enrollCustomer(input: $i) { errors { code message } } }"
REGISTER = (
    "mutation($i: RegisterWebhookInput!) { registerWebhook(input: $i) { webhook { id secret } errors { code } } }"
)
# Each writer's pause between events: latency is measured at a steady rate (4 writers:
# up to 200 events/s), not at saturation, where it would measure the queue instead.
PACE_SECONDS = 0.02
SUBSCRIBE = 'subscription { rewardEvents(types: ["points.adjusted"]) { id payload } }'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (steadier than rates on a shared machine)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def fresh_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    sys.path.insert(0, str(ROOT))
    from persistence.database import migrate

    await migrate(url.replace("postgresql://", "postgres://"))
    return url


@contextlib.asynccontextmanager
async def api_server(url: str, event_bus: str | None = None):
    port = free_port()
    env = {
        **os.environ,
        **({"LOYALTY_EVENT_BUS": event_bus} if event_bus else {}),
        "LOYALTY_DATABASE_URL": url.replace("postgresql://", "postgres://"),
        "LOYALTY_BOOTSTRAP_API_KEY": KEY,
        "LOYALTY_ENV": "production",
        "LOYALTY_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/loyalty"), "serve", "--port", str(port)], env=env, stdout=LOG, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            yield client, port, server.pid
    except Exception:
        print(Path(LOG.name).read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


async def gql(client: httpx.AsyncClient, query: str, **variables) -> dict:
    body = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
    assert "errors" not in body, body
    return body["data"]


async def notify_floor(url: str, count: int) -> list[float]:
    """NOTIFY on one raw connection to LISTEN on another, committed one at a time."""
    listener, sender = await asyncpg.connect(url), await asyncpg.connect(url)
    arrived: asyncio.Queue[float] = asyncio.Queue()
    await listener.add_listener("bench_floor", lambda *_: arrived.put_nowait(time.perf_counter()))
    latencies = []
    try:
        for _ in range(count):
            sent = time.perf_counter()
            await sender.execute("NOTIFY bench_floor")
            latencies.append(await asyncio.wait_for(arrived.get(), 5) - sent)
    finally:
        await listener.close()
        await sender.close()
    return latencies


@contextlib.asynccontextmanager
async def arrivals(port: int, count: int) -> AsyncIterator[dict[int, float]]:
    """A subscriber to points.adjusted; maps each event's `points` (the marker each
    producer writes) to when it arrived. On exit, waits until `count` have arrived."""
    received: dict[int, float] = {}
    async with websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {KEY}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        await asyncio.sleep(0.3)

        async def listen() -> None:
            while len(received) < count:
                message = json.loads(await ws.recv())
                if message["type"] == "next":
                    received[message["payload"]["data"]["rewardEvents"]["payload"]["points"]] = time.perf_counter()

        listener = asyncio.create_task(listen())
        yield received
        await asyncio.wait_for(listener, 30)


async def commit_latency(url: str, port: int, writers: int, count: int) -> list[float]:
    """Seconds from COMMIT returning to the subscriber receiving, for outbox rows written
    by raw transactions (as the service's writers write them), `writers` at once."""
    committed: dict[int, float] = {}
    conns = [await asyncpg.connect(url) for _ in range(writers)]

    async def write(index: int) -> None:
        conn = conns[index]
        for n in range(index + 1, count + 1, writers):
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO reward_events (type, customer_external_id, occurred_at, payload)"
                    " VALUES ('points.adjusted', NULL, now(), $1::jsonb)",
                    json.dumps({"points": n}),
                )
            committed[n] = time.perf_counter()
            await asyncio.sleep(PACE_SECONDS)

    try:
        async with arrivals(port, count) as received:
            await asyncio.gather(*(write(i) for i in range(writers)))
    finally:
        for conn in conns:
            await conn.close()
    return [max(0.0, received[n] - committed[n]) for n in committed]


async def subscription_latency(client: httpx.AsyncClient, port: int, customers: list[str], count: int):
    """(received - answered, received - sent) per event, in seconds."""
    sent: dict[int, tuple[float, float]] = {}

    async def produce(index: int) -> None:
        for n in range(index + 1, count + 1, len(customers)):
            start = time.perf_counter()
            data = await gql(client, ADJUST, i={"customerExternalId": customers[index], "points": n, "reason": "b"})
            assert not data["adjustPoints"]["errors"], data
            sent[n] = (start, time.perf_counter())
            await asyncio.sleep(PACE_SECONDS)

    async with arrivals(port, count) as received:
        await asyncio.gather(*(produce(i) for i in range(len(customers))))
    after_answer = [max(0.0, received[n] - sent[n][1]) for n in sent]
    after_send = [received[n] - sent[n][0] for n in sent]
    return after_answer, after_send


class Receiver:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.samples: list[tuple[dict[str, str], bytes]] = []
        self.expected = 0
        self.done = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                del line
                headers = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.times.append(time.perf_counter())
                if len(self.samples) < 5:
                    self.samples.append((headers, body))
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                if len(self.times) >= self.expected:
                    self.done.set()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


FLOOR_SENDER = """
import asyncio, sys, time
from datetime import UTC, datetime
import aiohttp
from standardwebhooks import Webhook

url, count, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = '{"type":"points.adjusted","timestamp":"2026-01-01T00:00:00+00:00","data":{"id":"1","points":1}}'
signer = Webhook("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

async def main():
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        queue = iter(range(count))
        async def worker():
            for n in queue:
                at = datetime.now(UTC)
                headers = {"content-type": "application/json", "webhook-id": str(n),
                           "webhook-timestamp": str(int(at.timestamp())),
                           "webhook-signature": signer.sign(str(n), at, body)}
                async with client.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        print(count / (time.perf_counter() - start), (time.process_time() - cpu) / count)

asyncio.run(main())
"""


async def receiver_floor(url: str, bodies: int, concurrency: int) -> tuple[float, float]:
    """Signed bodies per second a bare aiohttp client in another process (as the service's
    worker is) gets through the same receiver, at the worker's concurrency, and its CPU
    seconds per body."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FLOOR_SENDER, url, str(bodies), str(concurrency), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    rate, cpu = out.split()
    return float(rate), float(cpu)


async def webhook_throughput(client: httpx.AsyncClient, pid: int, customers: list[str], endpoints: int, events: int):
    """Deliveries per second while the worker drains the backlog left when production
    stops (production is slower than delivery, so the run before it measures production)."""
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    async with server:
        receiver.expected = endpoints * events
        floor_rate, floor_cpu = await receiver_floor(url, endpoints * events, concurrency=64)
        receiver.times.clear()
        receiver.samples.clear()
        receiver.done.clear()
        secrets = []
        for _ in range(endpoints):
            data = await gql(client, REGISTER, i={"url": url, "eventTypes": ["points.adjusted"]})
            secrets.append(data["registerWebhook"]["webhook"]["secret"])

        async def produce(index: int) -> None:
            for _ in range(index, events, len(customers)):
                await gql(client, ADJUST, i={"customerExternalId": customers[index], "points": 1, "reason": "w"})

        started = time.perf_counter()
        await asyncio.gather(*(produce(i) for i in range(len(customers))))
        ended, cpu_at_end = time.perf_counter(), cpu_seconds(pid)
        await asyncio.wait_for(receiver.done.wait(), 300)
        server_cpu = cpu_seconds(pid) - cpu_at_end
        backlog = [t for t in receiver.times if t > ended]
        for headers, body in receiver.samples:  # every sample verifies with one endpoint's secret
            assert any(_verifies(secret, headers, body) for secret in secrets)
        server.close()
    drain_rate = len(backlog) / (backlog[-1] - ended) if len(backlog) > 1 else float("nan")
    overall = len(receiver.times) / (receiver.times[-1] - receiver.times[0])
    cpu_per_delivery = server_cpu / len(backlog) if backlog else float("nan")
    return drain_rate, len(backlog), overall, floor_rate, events / (ended - started), cpu_per_delivery, floor_cpu


def _verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except Exception:
        return False
    return True


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="loyalty_bench_events", help="created afresh (dropped first)")
    parser.add_argument("--events", type=int, default=500, help="events for the latency run")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--webhook-events", type=int, default=200)
    parser.add_argument("--only", choices=["latency", "webhooks"], help="run one part")
    parser.add_argument("--event-bus", help="LOYALTY_EVENT_BUS for the server, e.g. redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    url = await fresh_database(args.database_url, args.database)
    async with api_server(url, args.event_bus) as (client, port, pid):
        customers = [f"bench-{uuid.uuid4().hex[:8]}-{i}" for i in range(args.clients)]
        for customer in customers:
            await gql(client, ENROLL, i={"externalId": customer, "email": f"{customer}@example.com"})
        if args.only != "webhooks":
            floor = await notify_floor(url, args.events)
            # A warm-up round, then the measured one.
            await subscription_latency(client, port, customers, 50)
            after_answer, after_send = await subscription_latency(client, port, customers, args.events)
            after_commit = await commit_latency(url, port, args.clients, args.events)
            print_latency(args, floor, after_answer, after_send, after_commit)
        if args.only != "latency":
            print_throughput(
                args, *await webhook_throughput(client, pid, customers, args.endpoints, args.webhook_events)
            )
    print(f"server log: {LOG.name}")


def print_latency(args, floor, after_answer, after_send, after_commit) -> None:
    ms = 1000
    print(f"subscription latency over {args.events} events, {args.clients} concurrent writers (ms):")
    print(
        f"  COMMIT returned -> subscriber (raw outbox transactions): p50 {percentile(after_commit, 50) * ms:.1f}"
        f"  p99 {percentile(after_commit, 99) * ms:.1f}   target p99 < 50"
    )
    print(
        f"  commit -> subscriber, lower bound (after the answer): p50 {percentile(after_answer, 50) * ms:.1f}"
        f"  p99 {percentile(after_answer, 99) * ms:.1f}"
    )
    print(
        f"  commit -> subscriber, upper bound (after the request): p50 {percentile(after_send, 50) * ms:.1f}"
        f"  p99 {percentile(after_send, 99) * ms:.1f}"
    )
    print(
        f"  floor, raw NOTIFY -> LISTEN: p50 {percentile(floor, 50) * ms:.2f}  p99 {percentile(floor, 99) * ms:.2f}"
        f"  (mean {statistics.mean(floor) * ms:.2f})"
    )


def print_throughput(args, drain, backlog, overall, floor_rate, produced_rate, cpu_each, floor_cpu) -> None:
    ms = 1000
    total = args.endpoints * args.webhook_events
    print(f"webhooks: {args.endpoints} endpoints x {args.webhook_events} events = {total} signed deliveries")
    print(f"  draining the backlog of {backlog} left when production stopped: {drain:,.0f}/s   target >= 500")
    print(f"  from first to last delivery, production included: {overall:,.0f}/s")
    print(f"  floor, a bare aiohttp sender to the same receiver: {floor_rate:,.0f}/s   ratio {drain / floor_rate:.2f}")
    print(f"  (events produced at {produced_rate:,.0f}/s meanwhile)")
    print(
        f"  server CPU per delivery while draining: {cpu_each * ms:.2f} ms ({1 / cpu_each:,.0f} per CPU-second);"
        f" the bare sender's: {floor_cpu * ms:.2f} ms ({1 / floor_cpu:,.0f} per CPU-second)"
    )


if __name__ == "__main__":
    asyncio.run(main())
