"""Which rules version is in force: the newest activation row (see app.rules_sync)."""

from __future__ import annotations

from datetime import datetime

from persistence import notifications, sql
from persistence.statements import named


async def record_activation(version: str, now: datetime) -> int:
    """Say that `version` is now in force everywhere; returns the activation's id."""
    [row] = await sql.fetch_named(
        named("INSERT INTO rules_activations (version, activated_at) VALUES (:version, :now) RETURNING id"),
        {"version": version, "now": now},
    )
    # Workers that follow activations read at once instead of at their next poll.
    await notifications.announce(notifications.RULES_CHANGED)
    return int(row["id"])


async def latest_activation() -> tuple[int, str] | None:
    """(id, version) of the newest activation, or None before the first one. Every worker
    asks twice a second: one plain statement, not an ORM query built each time."""
    rows = await sql.fetch("SELECT id, version FROM rules_activations ORDER BY id DESC LIMIT 1")
    return (int(rows[0]["id"]), rows[0]["version"]) if rows else None
