"""Which rules version is in force: the newest activation row (see app.rules_sync)."""

from __future__ import annotations

from datetime import datetime

from persistence.repository import Repository
from persistence.statements import Statement, insert
from persistence.tables import RULES_ACTIVATIONS

_INSERT = insert(RULES_ACTIVATIONS, ["version", "activated_at"], returning="id")
_LATEST = Statement("SELECT id, version FROM rules_activations ORDER BY id DESC LIMIT 1")


class RulesActivations(Repository):
    async def add(self, version: str, now: datetime) -> int:
        """Say that `version` is now in force everywhere; returns the activation's id."""
        self.session.writing()
        [row] = await self.conn.fetch(_INSERT, {"version": version, "activated_at": now})
        return row["id"]

    async def latest(self) -> tuple[int, str] | None:
        """(id, version) of the newest activation, or None before the first one."""
        rows = await self.conn.fetch(_LATEST)
        return (rows[0]["id"], rows[0]["version"]) if rows else None
