"""Verified customer tokens are remembered until they expire, in a bounded cache."""

from __future__ import annotations

import time

import jwt
import pytest

from app import credentials
from app.credentials import CustomerTokens
from domain.auth import CustomerCaller

SECRET = "a token secret of at least thirty-two bytes"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature was checked (a cache miss each)."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token, *args, **kwargs):
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(credentials.jwt, "decode", counting)
    return seen


def test_a_token_verifies_as_its_customer_and_is_checked_once(decodes):
    tokens = CustomerTokens(SECRET, 3600)
    token = tokens.issue("cust-1").token

    assert tokens.verify(token) == CustomerCaller("cust-1")
    assert tokens.verify(token) == CustomerCaller("cust-1")
    assert decodes == [token]


def test_a_remembered_token_stops_working_when_it_expires(decodes):
    tokens = CustomerTokens(SECRET, 1)
    token = tokens.issue("cust-1").token
    assert tokens.verify(token) == CustomerCaller("cust-1")

    time.sleep(2.1)  # the token's own exp, whole seconds

    assert tokens.verify(token) is None


def test_a_bad_token_is_refused_and_not_remembered(decodes):
    tokens = CustomerTokens(SECRET, 3600)
    forged = CustomerTokens("another secret, also thirty-two bytes long", 3600).issue("cust-1").token

    assert tokens.verify(forged) is None
    assert tokens.verify(forged) is None
    assert decodes == [forged, forged]


def test_the_cache_is_bounded_least_recently_used_out(decodes):
    tokens = CustomerTokens(SECRET, 3600, cache_size=2)
    a, b, c = (tokens.issue(f"cust-{n}").token for n in "abc")
    for token in (a, b, c):
        tokens.verify(token)

    assert tokens.verify(c) == CustomerCaller("cust-c")  # still remembered
    assert tokens.verify(a) == CustomerCaller("cust-a")  # pushed out by c: checked again
    assert decodes == [a, b, c, a]
