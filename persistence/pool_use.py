"""How much of the PostgreSQL connection pool is in use, for /metrics and readiness."""

from __future__ import annotations

from dataclasses import dataclass

from persistence import sql
from persistence.connections import open_pools


@dataclass(frozen=True)
class PoolUse:
    open: int
    idle: int
    max_size: int

    @property
    def in_use(self) -> int:
        return self.open - self.idle


def pool_use() -> PoolUse | None:
    """The process's open pools summed; None when none is open (SQLite has no pool)."""
    for closed in [pool for pool in open_pools if pool.is_closing()]:
        open_pools.discard(closed)
    if not open_pools:
        return None
    pools = list(open_pools)
    return PoolUse(
        open=sum(p.get_size() for p in pools),
        idle=sum(p.get_idle_size() for p in pools),
        max_size=sum(p.get_max_size() for p in pools),
    )


async def ping() -> None:
    """One round trip to the task's database; raises when it fails."""
    await sql.fetch("SELECT 1")
