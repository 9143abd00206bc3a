"""A graphql-transport-ws client, as a partner would write one with `websockets`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets

REWARD_EVENTS = """
subscription($types: [String!], $after: String) {
  rewardEvents(types: $types, after: $after) {
    id type customerExternalId sequence occurredAt rulesVersion payload
  }
}"""


class Subscription:
    def __init__(self, ws: Any, operation_id: str):
        self.ws = ws
        self.id = operation_id

    async def next(self, within: float = 10) -> dict[str, Any]:
        """The next `next` payload's data; raises on `error` or `complete`."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("id") != self.id:
                continue  # another operation's, such as the `complete` after an error
            if message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    raise SubscriptionError(payload["errors"])
                return payload["data"]["rewardEvents"]
            if message["type"] == "error":
                raise SubscriptionError(message["payload"])
            raise SubscriptionError([{"message": f"unexpected {message['type']}"}])

    async def take(self, count: int, within: float = 10) -> list[dict[str, Any]]:
        return [await self.next(within) for _ in range(count)]

    async def nothing_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ws.recv(), seconds)
            return False
        return True


class SubscriptionError(Exception):
    def __init__(self, errors: Any):
        super().__init__(errors)
        self.errors = errors


@contextlib.asynccontextmanager
async def connected(http_url: str, key: str | None) -> AsyncIterator[Any]:
    url = http_url.replace("http://", "ws://", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {key}"} if key else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield ws


async def subscribe(ws: Any, operation_id: str = "1", **variables: Any) -> Subscription:
    message = {"id": operation_id, "type": "subscribe", "payload": {"query": REWARD_EVENTS, "variables": variables}}
    await ws.send(json.dumps(message))
    return Subscription(ws, operation_id)


@contextlib.asynccontextmanager
async def subscribed(http_url: str, key: str, **variables: Any) -> AsyncIterator[Subscription]:
    async with connected(http_url, key) as ws:
        yield await subscribe(ws, **variables)
