"""A GraphQL POST straight into the ASGI app, no sockets: what the in-process CPU benches
(bench_record_order_cpu, bench_reads_cpu, bench_evaluate_cart_cpu) drive the service with."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


def graphql_post(app: Any, credential: str) -> Callable[[bytes], Awaitable[bytes]]:
    """`post(body)`: the answer's bytes for one POST /graphql with that bearer credential."""
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {credential}".encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def post(body: bytes) -> bytes:
        sent = False
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)  # the request has no more body; a disconnect never comes
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(dict(scope), receive, send)
        return b"".join(chunks)

    return post
