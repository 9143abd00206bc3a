"""The HTTP client of webhook deliveries: aiohttp, one keep-alive pool for the worker.

Measured (bench/bench_events.py): httpx spent about 2 ms of CPU per POST, which capped a
worker near 450 deliveries per CPU-second before anything else it does; aiohttp spends
a fraction of that. What the deliveries need of a client, and where it is set here:

- no redirects followed (`allow_redirects=False`: a 3xx is a failed attempt);
- TLS certificates verified (aiohttp's default);
- the whole attempt bounded by LOYALTY_WEBHOOKS_TIMEOUT_SECONDS (`ClientTimeout(total=)`);
- no proxy from the environment (`trust_env=False`), so that the address checked is the
  one connected to;
- every address a host name resolves to checked when a connection is made
  (`PublicOnlyResolver`), unless private targets are allowed: app.delivery also checks
  the URL before each attempt (and an IP literal, which aiohttp does not resolve), so the
  name cannot change its answer between that check and the connection.
"""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from domain.webhooks import refused_address

# What is read of an answer before the connection goes back to the pool; a longer body
# closes the connection instead (a receiver should answer 2xx with little or nothing).
MAX_ANSWER_BYTES = 64 * 1024


class RefusedTarget(OSError):
    """A host name resolved to an address deliveries may not go to."""


class PublicOnlyResolver(ThreadedResolver):
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        for result in found:
            reason = refused_address(result["host"])
            if reason:
                raise RefusedTarget(f"the host '{host}' resolves to {result['host']}, {reason}")
        return found


class Failed(Exception):
    """An attempt that got no HTTP answer; the message says why, for the delivery log."""


class WebhookSender:
    def __init__(self, *, timeout_seconds: float, concurrency: int, allow_private: bool):
        self.timeout_seconds = timeout_seconds
        self.concurrency = concurrency
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookSender:
        connector = aiohttp.TCPConnector(
            limit=self.concurrency,
            resolver=None if self.allow_private else PublicOnlyResolver(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            trust_env=False,
            auto_decompress=False,
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status code; raises Failed when there is none."""
        assert self._session is not None, "use the sender in `async with`"
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                # Read the (short) answer so that the connection is kept for the next POST.
                await response.content.read(MAX_ANSWER_BYTES)
                return response.status
        except TimeoutError:
            raise Failed(f"no answer within {self.timeout_seconds:g} s") from None
        except aiohttp.ClientConnectorError as error:
            cause = error.os_error
            if isinstance(cause, RefusedTarget):
                raise Failed(f"refused: {cause}; webhooks go to public addresses only") from None
            raise Failed(f"cannot connect: {cause}"[:1000]) from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as error:
            raise Failed(f"{type(error).__name__}: {error}"[:1000]) from None
