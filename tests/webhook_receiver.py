"""A partner's webhook endpoint: a small HTTP/1.1 server that verifies every delivery
with the standardwebhooks library's own `Webhook.verify`, and answers as scripted
(2xx, an error status, a timeout, a closed connection)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    answered: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict[str, Any]:
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str
    script: list[str] = field(default_factory=list)
    """Answers for the next requests, in order: a status code as text, "hang" (no answer
    for 30 s), "close" (close the connection) or "hold" (204 once `released` is set, to
    order a step of the test between the request and its answer); "204" once the script
    is used up."""
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    handlers: set[asyncio.Task] = field(default_factory=set)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, within: float = 15) -> list[Delivery]:
        async with asyncio.timeout(within):
            while len(self.deliveries) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.deliveries

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                answer = self.script.pop(0) if self.script else "204"
                self.deliveries.append(Delivery(headers, body, answer))
                self.arrived.set()
                if answer == "close":
                    return
                if answer == "hang":
                    await asyncio.sleep(30)
                    return
                if answer == "hold":
                    await self.released.wait()
                    answer = "204"
                writer.write(f"HTTP/1.1 {answer} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            self.handlers.discard(task)
            writer.close()


@contextlib.asynccontextmanager
async def receiving(*script: str) -> AsyncIterator[Receiver]:
    receiver = Receiver(url="", script=list(script))
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/hooks/loyalty"
    async with server:
        try:
            yield receiver
        finally:
            server.close()
            for task in list(receiver.handlers):
                task.cancel()
