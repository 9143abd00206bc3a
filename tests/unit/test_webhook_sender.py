"""The webhook client's safety settings, against a receiver on this machine: it connects
only to addresses that were checked, follows no redirect, and gives up at the timeout."""

from __future__ import annotations

import pytest

from app.webhook_sender import Failed, WebhookSender
from tests.webhook_receiver import receiving


def sender(*, allow_private: bool, timeout: float = 5) -> WebhookSender:
    return WebhookSender(timeout_seconds=timeout, concurrency=4, allow_private=allow_private)


async def test_a_name_that_resolves_to_loopback_is_refused_when_connecting():
    async with receiving() as receiver, sender(allow_private=False) as client:
        url = receiver.url.replace("127.0.0.1", "localhost")
        with pytest.raises(Failed, match="resolves to 127.0.0.1, .*public addresses only"):
            await client.post(url, b"{}", {"content-type": "application/json"})
    assert receiver.deliveries == []


async def test_a_redirect_is_an_answer_not_followed():
    async with receiving("307") as receiver, sender(allow_private=True) as client:
        status = await client.post(receiver.url, b"{}", {"content-type": "application/json"})
    assert status == 307
    assert len(receiver.deliveries) == 1


async def test_one_connection_serves_consecutive_deliveries():
    async with receiving() as receiver, sender(allow_private=True) as client:
        for _ in range(3):
            assert await client.post(receiver.url, b"{}", {"content-type": "application/json"}) == 204
        connections = len(receiver.handlers)
    assert connections == 1
    assert len(receiver.deliveries) == 3


async def test_a_receiver_that_does_not_answer_fails_the_attempt_at_the_timeout():
    async with receiving("hang") as receiver, sender(allow_private=True, timeout=0.2) as client:
        with pytest.raises(Failed, match="no answer within 0.2 s"):
            await client.post(receiver.url, b"{}", {"content-type": "application/json"})
