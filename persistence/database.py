"""Applying the versioned migrations (Tortoise's own migration runner).

Tortoise is used for the models (the tables' one description) and the migrations; the
service's queries go through the unit of work's own connections (`persistence.connections`).
"""

from __future__ import annotations

from typing import Any

from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

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


# For Tortoise's own `tortoise makemigrations -c persistence.database.MIGRATIONS_CONFIG`,
# which a developer runs after changing models; the service never reads it.
MIGRATIONS_CONFIG = tortoise_config("sqlite://:memory:")
