"""Which rules version is in force: the newest activation row (see app.rules_sync)."""

from __future__ import annotations

from datetime import datetime

from persistence import models


async def record_activation(version: str, now: datetime) -> int:
    """Say that `version` is now in force everywhere; returns the activation's id."""
    row = await models.RulesActivation.create(version=version, activated_at=now)
    return row.id


async def latest_activation() -> tuple[int, str] | None:
    """(id, version) of the newest activation, or None before the first one."""
    row = await models.RulesActivation.all().order_by("-id").only("id", "version").first()
    return (row.id, row.version) if row else None
