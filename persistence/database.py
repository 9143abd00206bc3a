"""Applying the versioned migrations (Tortoise's own migration runner).

Tortoise is used for the models (the tables' one description) and the migrations; the
service's queries go through the unit of work's own connections (`persistence.connections`).
"""

from __future__ import annotations

from typing import Any

from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.migrations.executor import MigrationExecutor

MODELS_MODULE = "persistence.models"
MIGRATIONS_MODULE = "persistence.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
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


class DatabaseNotMigrated(RuntimeError):
    """The database lacks migrations this code needs (or was never migrated at all)."""

    def __init__(self, database_url: str, pending: list[str]):
        where = database_url.split("@")[-1]
        names = ", ".join(name.split(".", 1)[-1] for name in pending)
        super().__init__(
            f"The database {where} is not migrated ({len(pending)} migrations pending: {names}):"
            " run `loyalty migrate`, then start the service again."
        )


async def check_migrated(database_url: str) -> None:
    """Raises DatabaseNotMigrated, with what to do, rather than failing on a missing table."""
    pending = await pending_migrations(database_url)
    if pending:
        raise DatabaseNotMigrated(database_url, pending)


# For Tortoise's own `tortoise makemigrations -c persistence.database.MIGRATIONS_CONFIG`,
# which a developer runs after changing models; the service never reads it.
MIGRATIONS_CONFIG = tortoise_config("sqlite://:memory:")
