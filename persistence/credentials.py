"""API keys (stored as digests, never in clear) and the token-signing secret."""

from __future__ import annotations

import secrets
from datetime import datetime

from tortoise.exceptions import IntegrityError

from persistence import models


async def insert_api_key(name: str, prefix: str, key_hash: str, scopes: list[str], now: datetime) -> None:
    await models.ApiKey.create(name=name, prefix=prefix, key_hash=key_hash, scopes=scopes, created_at=now)


async def find_api_key(prefix: str) -> models.ApiKey | None:
    return await models.ApiKey.get_or_none(prefix=prefix, revoked_at=None)


async def stored_token_secret() -> str:
    """The secret generated on first start; two workers starting at once agree on one."""
    row = await models.Setting.get_or_none(key="token_secret")
    if row:
        return row.value
    try:
        await models.Setting.create(key="token_secret", value=secrets.token_urlsafe(48))
    except IntegrityError:
        pass
    return (await models.Setting.get(key="token_secret")).value
