"""How much of the PostgreSQL connection pool is in use, for /metrics and readiness.

Tortoise keeps its asyncpg pool in a private attribute; its documented extension point
is the engine module named in the connection config (a module with `client_class`).
This module is that engine: Tortoise's own asyncpg client, which also remembers the
pools it creates so that asyncpg's public `get_size()`/`get_idle_size()` can be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.connection import get_connection

ENGINE = __name__

_pools: set[asyncpg.Pool] = set()  # asyncpg pools take no weak references


class PoolRememberingClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        pool = await super().create_pool(**kwargs)
        _pools.add(pool)
        return pool


client_class = PoolRememberingClient


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
    for closed in [pool for pool in _pools if pool.is_closing()]:
        _pools.discard(closed)
    if not _pools:
        return None
    pools = list(_pools)
    return PoolUse(
        open=sum(p.get_size() for p in pools),
        idle=sum(p.get_idle_size() for p in pools),
        max_size=sum(p.get_max_size() for p in pools),
    )


async def ping() -> None:
    """One round trip to the database of the current Tortoise context; raises when it fails."""
    await get_connection("default").execute_query("SELECT 1")
