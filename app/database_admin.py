"""The database as operators and the service's edge see it: migrations (`loyalty migrate`,
the start-up check), whether it answers (readiness, 503s) and how much of the pool is in
use (/metrics). The API reaches persistence through here only."""

from __future__ import annotations

from persistence.database import (
    DatabaseNotMigrated,
    DatabaseNotReady,
    DatabaseUnreachable,
    check_migrated,
    check_reachable,
    is_unavailable,
    migrate,
    pending_migrations,
)
from persistence.pool_use import PoolUse, ping, pool_use

__all__ = [
    "DatabaseNotMigrated",
    "DatabaseNotReady",
    "DatabaseUnreachable",
    "PoolUse",
    "check_migrated",
    "check_reachable",
    "is_unavailable",
    "migrate",
    "pending_migrations",
    "ping",
    "pool_use",
]
