"""API keys for store back ends and partners; signed tokens for storefront customers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from app.clock import utcnow
from domain.auth import ApiKeyCaller, CustomerCaller, Scope
from domain.errors import DomainError, ErrorCode
from persistence.unit_of_work import UnitOfWork

KEY_PREFIX = "lk"
TOKEN_AUDIENCE = "loyalty:storefront"
TOKEN_ISSUER = "loyalty"


def _digest(secret: str) -> str:
    # Keys are 256 random bits: a fast digest is enough, there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(values: list[str]) -> list[Scope]:
    scopes = []
    for value in values:
        try:
            scopes.append(Scope(value))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise DomainError(ErrorCode.INVALID, f"Unknown scope '{value}'; known: {known}.", ["scope"]) from None
    if not scopes:
        raise DomainError(ErrorCode.REQUIRED, "An API key needs at least one scope.", ["scope"])
    return scopes


async def create_api_key(uow: UnitOfWork, name: str, scopes: list[str]) -> str:
    """The key in clear, shown once; only its digest is stored."""
    parsed = parse_scopes(scopes)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with uow.transaction() as session:
        await session.credentials.insert_api_key(name, prefix, _digest(secret), [s.value for s in parsed], utcnow())
    return f"{KEY_PREFIX}_{prefix}_{secret}"


async def token_secret(uow: UnitOfWork) -> str:
    """The secret customer tokens are signed with when none is configured: generated on
    first start and stored, so that every worker (and every restart) signs alike."""
    async with uow.transaction() as session:
        return await session.credentials.stored_token_secret()


class ApiKeyVerifier:
    """Checks keys against their stored digests, remembering good ones briefly so that a
    busy client does not pay a database round trip per request."""

    def __init__(self, bootstrap_key: str | None, cache_seconds: float = 30.0, cache_size: int = 1024):
        self._bootstrap = bootstrap_key
        self._ttl = cache_seconds
        self._size = cache_size
        self._cache: OrderedDict[str, tuple[float, ApiKeyCaller]] = OrderedDict()

    async def verify(self, uow: UnitOfWork, presented: str) -> ApiKeyCaller | None:
        if self._bootstrap and hmac.compare_digest(presented.encode(), self._bootstrap.encode()):
            return ApiKeyCaller("bootstrap", frozenset(Scope))
        digest = _digest(presented)
        hit = self._cache.get(digest)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != KEY_PREFIX:
            return None
        async with uow.reading() as session:
            row = await session.credentials.find_api_key(parts[1])
        if row is None or not hmac.compare_digest(row.key_hash, _digest(parts[2])):
            return None
        caller = ApiKeyCaller(row.name, frozenset(Scope(s) for s in row.scopes))
        self._cache[digest] = (time.monotonic() + self._ttl, caller)
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return caller


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class CustomerTokens:
    """Issues and verifies storefront tokens. Verified tokens are remembered until they
    expire (a signature check and claims decoding per request were 3-5% of `me`'s CPU),
    like API keys: bounded, least recently used out, and only tokens that verified."""

    def __init__(self, secret: str, ttl_seconds: int, cache_size: int = 4096):
        self._secret = secret
        self._ttl = ttl_seconds
        self._size = cache_size
        self._verified: OrderedDict[str, tuple[float, CustomerCaller]] = OrderedDict()

    def issue(self, external_id: str) -> IssuedToken:
        now = int(time.time())
        expires = now + self._ttl
        token = jwt.encode(
            {"sub": external_id, "iat": now, "exp": expires, "aud": TOKEN_AUDIENCE, "iss": TOKEN_ISSUER},
            self._secret,
            algorithm="HS256",
        )
        return IssuedToken(token, datetime.fromtimestamp(expires, UTC))

    def verify(self, token: str) -> CustomerCaller | None:
        hit = self._verified.get(token)
        if hit is not None:
            if hit[0] > time.time():
                self._verified.move_to_end(token)
                return hit[1]
            del self._verified[token]
        caller, expires = self._check(token)
        if caller is not None:
            self._verified[token] = (expires, caller)
            if len(self._verified) > self._size:
                self._verified.popitem(last=False)
        return caller

    def _check(self, token: str) -> tuple[CustomerCaller | None, float]:
        """The token's customer and expiry (as a Unix time), or None when it is not good."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=TOKEN_AUDIENCE,
                issuer=TOKEN_ISSUER,
                options={"require": ["sub", "exp"]},
            )
        except jwt.PyJWTError:
            return None, 0.0
        sub = claims.get("sub")
        # PyJWT has checked that exp is a number and in the future.
        return (CustomerCaller(sub) if isinstance(sub, str) and sub else None), float(claims["exp"])
