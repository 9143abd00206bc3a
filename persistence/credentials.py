"""API keys (stored as digests, never in clear) and the token-signing secret."""

from __future__ import annotations

import secrets
from datetime import datetime

from persistence import sql
from persistence.rows import ApiKeyRow, api_key_row, json_text
from persistence.statements import named


async def insert_api_key(name: str, prefix: str, key_hash: str, scopes: list[str], now: datetime) -> None:
    await sql.execute_named(
        named(
            "INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at) VALUES (:name, :prefix,"
            " :key_hash, :scopes, :now)"
        ),
        {"name": name, "prefix": prefix, "key_hash": key_hash, "scopes": json_text(scopes), "now": now},
    )


async def find_api_key(prefix: str) -> ApiKeyRow | None:
    rows = await sql.fetch_named(
        named("SELECT * FROM api_keys WHERE prefix = :prefix AND revoked_at IS NULL"), {"prefix": prefix}
    )
    return api_key_row(rows[0]) if rows else None


async def stored_token_secret() -> str:
    """The secret generated on first start; two workers starting at once agree on one."""
    query = """SELECT value FROM settings WHERE "key" = 'token_secret'"""
    rows = await sql.fetch(query)
    if not rows:
        await sql.execute_named(
            named(
                """INSERT INTO settings ("key", value) VALUES ('token_secret', :secret)"""
                """ ON CONFLICT ("key") DO NOTHING"""
            ),
            {"secret": secrets.token_urlsafe(48)},
        )
        rows = await sql.fetch(query)
    return str(rows[0]["value"])
