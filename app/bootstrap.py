"""Wires the service once: database, rules registry, credentials. Used by the ASGI
lifespan and the CLI alike, so both run the same use cases against the same setup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.auth_throttle import FailedAuthThrottle
from app.clock import utcnow
from app.credentials import ApiKeyVerifier, CustomerTokens, token_secret
from app.rules_admin import save_rules_version
from app.rules_sync import follow_activations, put_in_force
from app.settings import Settings
from persistence import database
from persistence.connections import is_unavailable
from persistence.database import DatabaseNotMigrated, check_migrated
from persistence.unit_of_work import UnitOfWork
from rules import Program, RulesRegistry

log = logging.getLogger("loyalty")

__all__ = [
    "DatabaseNotMigrated",
    "Services",
    "check_migrated",
    "is_unavailable",
    "migrate",
    "pending_migrations",
    "running_services",
]


@dataclass
class Services:
    settings: Settings
    rules: RulesRegistry
    api_keys: ApiKeyVerifier
    tokens: CustomerTokens
    uow: UnitOfWork
    """Every use case reaches the database through it."""
    auth_throttle: FailedAuthThrottle

    @property
    def program(self) -> Program:
        return self.rules.program


async def migrate(database_url: str) -> None:
    """Apply the versioned migrations (`loyalty migrate`)."""
    await database.migrate(database_url)


async def pending_migrations(database_url: str) -> list[str]:
    """The migrations not yet applied (`loyalty migrate --check`)."""
    return await database.pending_migrations(database_url)


@contextlib.asynccontextmanager
async def running_services(settings: Settings, *, watch_rules: bool = False) -> AsyncIterator[Services]:
    """`watch_rules`: a serving worker, which follows the versions the others put in force and
    (unless settings.rules_watch is off) watches the rules folder."""
    if settings.is_sqlite:
        # The embedded default migrates itself; PostgreSQL is migrated by `loyalty migrate`.
        await database.migrate(settings.database_url)
    else:
        # Said plainly now, rather than as a missing table on the first request.
        await check_migrated(settings.database_url)
    uow = await UnitOfWork.open(settings.database_url, settings.workers)
    try:
        registry = RulesRegistry(settings.rules_dir, quiet_ms=settings.rules_quiet_ms)
        if registry.program is None:
            raise RuntimeError(f"the rules folder {settings.rules_dir} does not load")
        if watch_rules:
            # The folder a serving worker starts with is the newest deploy: in force for all.
            await put_in_force(uow, registry.program)
        else:
            # A tool (`loyalty jobs run`...) stores its version but changes nothing in force.
            await save_rules_version(uow, registry.program, utcnow())
        secret = str(settings.token_secret) if settings.token_secret else await token_secret(uow)
        services = Services(
            settings=settings,
            rules=registry,
            api_keys=ApiKeyVerifier(uow, str(settings.bootstrap_api_key) if settings.bootstrap_api_key else None),
            tokens=CustomerTokens(secret, settings.token_ttl_seconds),
            uow=uow,
            auth_throttle=FailedAuthThrottle(settings.auth_failure_limit, settings.auth_failure_window_seconds),
        )

        async def activate(program: Program) -> None:
            await put_in_force(uow, program)

        # From here on a new version is stored before it goes live (see RulesRegistry).
        registry.on_activate = activate
        tasks = []
        if watch_rules:
            tasks.append(
                asyncio.create_task(follow_activations(uow, registry, settings.rules_sync_ms / 1000), name="rules-sync")
            )
            if settings.rules_watch:
                tasks.append(asyncio.create_task(registry.watch(), name="rules-watcher"))
        try:
            yield services
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await uow.close()
