"""API keys (stored as digests, never in clear), the token-signing secret, and the rules
versions ever activated."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from persistence.connections import AlreadyStored
from persistence.repository import Repository
from persistence.statements import Statement, insert
from persistence.tables import API_KEYS, RULES_VERSIONS, SETTINGS, to_json


@dataclass(frozen=True)
class StoredApiKey:
    name: str
    key_hash: str
    scopes: tuple[str, ...]


_INSERT_KEY = insert(API_KEYS, ["name", "prefix", "key_hash", "scopes", "created_at"])
_FIND_KEY = Statement("SELECT name, key_hash, scopes FROM api_keys WHERE prefix = :prefix AND revoked_at IS NULL")
_SETTING = Statement("SELECT value FROM settings WHERE key = :key")
_INSERT_SETTING = insert(SETTINGS, ["key", "value"], suffix="ON CONFLICT (key) DO NOTHING")
_INSERT_VERSION = insert(
    RULES_VERSIONS, ["version", "sources", "created_at"], suffix="ON CONFLICT (version) DO NOTHING"
)
_VERSION = Statement("SELECT version, sources, created_at FROM rules_versions WHERE version = :version")


class Credentials(Repository):
    async def add_api_key(self, name: str, prefix: str, key_hash: str, scopes: list[str], now: datetime) -> None:
        self.session.writing()
        params = {"name": name, "prefix": prefix, "key_hash": key_hash, "scopes": to_json(scopes), "created_at": now}
        await self.conn.execute(_INSERT_KEY, params)

    async def api_key(self, prefix: str) -> StoredApiKey | None:
        rows = await self.conn.fetch(_FIND_KEY, {"prefix": prefix})
        if not rows:
            return None
        row = API_KEYS.decode(rows[0])
        return StoredApiKey(row["name"], row["key_hash"], tuple(row["scopes"]))

    async def token_secret(self) -> str:
        """The secret generated on first start; two workers starting at once agree on one."""
        rows = await self.conn.fetch(_SETTING, {"key": "token_secret"})
        if rows:
            return rows[0]["value"]
        self.session.writing()
        await self.conn.execute(_INSERT_SETTING, {"key": "token_secret", "value": secrets.token_urlsafe(48)})
        [row] = await self.conn.fetch(_SETTING, {"key": "token_secret"})
        return row["value"]


@dataclass(frozen=True)
class StoredVersion:
    version: str
    sources: dict[str, str]
    created_at: datetime


class RulesVersions(Repository):
    async def add(self, version: str, sources: dict[str, str], now: datetime) -> None:
        """Kept once; another worker storing the same version first is fine."""
        self.session.writing()
        await self.conn.execute(_INSERT_VERSION, {"version": version, "sources": to_json(sources), "created_at": now})

    async def get(self, version: str) -> StoredVersion | None:
        rows = await self.conn.fetch(_VERSION, {"version": version})
        if not rows:
            return None
        row = RULES_VERSIONS.decode(rows[0])
        return StoredVersion(row["version"], dict(row["sources"]), row["created_at"])


__all__ = ["AlreadyStored", "Credentials", "RulesVersions"]
