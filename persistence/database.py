"""Opening and closing the database, and applying the versioned migrations."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.migrations.executor import MigrationExecutor

from persistence import connections

MODELS_MODULE = "persistence.models"
EVENT_MODELS_MODULE = "persistence.event_models"
MIGRATIONS_MODULE = "persistence.migrations"


# asyncpg's pool defaults to 5 connections, which queued 16 concurrent writers (measured
# in bench/): each worker's pool holds up to MAX_POOL, fewer when the server's
# max_connections, shared by all workers, cannot give every worker that many (see
# pool_size). A URL that names maxsize keeps its own.
MAX_POOL = 20
# Connections left for everything but the service's workers: `loyalty migrate`, `loyalty
# jobs run`, an operator's psql, monitoring.
RESERVED_CONNECTIONS = 10
# Each serving worker also holds connections outside its pool: the LISTEN for reward
# events (persistence/notifications.py).
CONNECTIONS_OUTSIDE_POOL = 1

log = logging.getLogger("loyalty.database")


def pool_size(max_connections: int, superuser_reserved: int, workers: int) -> int:
    """Connections per worker's pool: an equal share of what PostgreSQL allows once its
    superuser slots and RESERVED_CONNECTIONS are set aside, less the worker's connections
    outside its pool, at most MAX_POOL, at least 1."""
    share = (max_connections - superuser_reserved - RESERVED_CONNECTIONS) // max(1, workers) - CONNECTIONS_OUTSIDE_POOL
    return max(1, min(MAX_POOL, share))


async def sized_url(database_url: str, workers: int) -> str:
    """A PostgreSQL URL with its pool sized against the server's max_connections (asked
    of the server) and the worker count; other URLs, and those naming maxsize, as given."""
    if not database_url.startswith(("postgres://", "asyncpg://")) or "maxsize=" in database_url:
        return database_url
    # asyncpg would send the URL's query (Tortoise's options) as server settings.
    dsn = "postgresql://" + database_url.split("://", 1)[1].split("?", 1)[0]
    conn = await asyncpg.connect(dsn)
    try:
        max_connections = int(await conn.fetchval("SHOW max_connections"))
        superuser_reserved = int(await conn.fetchval("SHOW superuser_reserved_connections"))
    finally:
        await conn.close()
    size = pool_size(max_connections, superuser_reserved, workers)
    log.info(
        "database pool: %d connections per worker (%d workers, max_connections %d, %d reserved for superusers, %d"
        " for other clients)",
        size,
        workers,
        max_connections,
        superuser_reserved,
        RESERVED_CONNECTIONS,
    )
    return database_url + ("&" if "?" in database_url else "?") + f"minsize={min(2, size)}&maxsize={size}"


# What a request meets when PostgreSQL refuses connections (max_connections reached, the
# server starting or shutting down) or cannot be reached at all.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.PostgresConnectionError,
    DBConnectionError,
    ConnectionError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether an error (or one it was raised from) says the database is out of reach."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UNAVAILABLE_ERRORS):
            return True
        seen = seen.__cause__
    return False


def tortoise_config(database_url: str) -> dict[str, Any]:
    connection: str | dict[str, Any] = database_url
    if database_url.startswith(("postgres://", "asyncpg://")):
        if "maxsize=" not in database_url:
            database_url += ("&" if "?" in database_url else "?") + f"minsize=2&maxsize={MAX_POOL}"
        connection = expand_db_url(database_url)
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [MODELS_MODULE, EVENT_MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(database_url: str) -> None:
    """Apply every migration in `persistence/migrations` not yet applied (idempotent)."""
    async with TortoiseContext():
        await tortoise_migrate(config=tortoise_config(database_url))


async def pending_migrations(database_url: str) -> list[str]:
    """The migrations not yet applied to the database, in the order they would be."""
    config = tortoise_config(database_url)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        executor = MigrationExecutor(get_connection("default"), config["apps"])
        steps = await executor.plan()
    return [f"{step.migration.app_label}.{step.migration.name}" for step in steps if not step.backward]


class DatabaseNotReady(RuntimeError):
    """The service cannot start on this database; the message says what to do."""


class DatabaseUnreachable(DatabaseNotReady):
    def __init__(self, database_url: str, error: BaseException):
        where = database_url.split("@")[-1]
        super().__init__(
            f"The database {where} cannot be reached ({type(error).__name__}: {error}): check"
            " LOYALTY_DATABASE_URL and that the server is running."
        )


async def check_reachable(database_url: str) -> None:
    """One connection, opened and closed: raises DatabaseUnreachable, never a traceback."""
    if not database_url.startswith(("postgres://", "asyncpg://", "postgresql://")):
        return  # SQLite: the file is made on first use
    dsn = "postgresql://" + database_url.split("://", 1)[1].split("?", 1)[0]
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise DatabaseUnreachable(database_url, error) from error
    await conn.close()


class DatabaseNotMigrated(DatabaseNotReady):
    """The database lacks migrations this code needs (or was never migrated at all)."""

    def __init__(self, database_url: str, pending: list[str]):
        where = database_url.split("@")[-1]
        names = ", ".join(name.split(".", 1)[-1] for name in pending)
        super().__init__(
            f"The database {where} is not migrated ({len(pending)} migrations pending: {names}):"
            " run `loyalty migrate`, then start the service again."
        )


async def check_migrated(database_url: str) -> None:
    """Raises DatabaseNotMigrated, with what to do, rather than failing on a missing table
    (and DatabaseUnreachable first, rather than calling an unreachable server unmigrated)."""
    await check_reachable(database_url)
    pending = await pending_migrations(database_url)
    if pending:
        raise DatabaseNotMigrated(database_url, pending)


async def open_database(database_url: str, workers: int = 1) -> connections.Database:
    """Connect (on PostgreSQL a pool sized for `workers` processes, see sized_url). The
    first database opened in a process is the one code outside any binding uses (the CLI,
    jobs, tests); the ASGI app binds its own for every request (`connections.bind`)."""
    url = await sized_url(database_url, workers)
    database: connections.Database
    if url.startswith(("postgres://", "asyncpg://", "postgresql://")):
        credentials = expand_db_url(url)["credentials"]
        database = await connections.PostgresDatabase.open(
            url, min_size=int(credentials.get("minsize", 2)), max_size=int(credentials.get("maxsize", MAX_POOL))
        )
    else:
        database = await connections.SqliteDatabase.open(url)
    connections.opened(database)
    return database


async def close_database(database: connections.Database) -> None:
    connections.closed(database)
    await database.close()


# For Tortoise's own `tortoise makemigrations -c persistence.database.MIGRATIONS_CONFIG`,
# which a developer runs after changing models; the service never reads it.
MIGRATIONS_CONFIG = tortoise_config("sqlite://:memory:")
