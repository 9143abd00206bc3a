"""Wires the service once: database, rules registry, credentials. Used by the ASGI
lifespan and the CLI alike, so both run the same use cases against the same setup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tortoise.context import TortoiseContext

from app.auth_throttle import FailedAuthThrottle
from app.clock import utcnow
from app.credentials import ApiKeyVerifier, CustomerTokens
from app.rules_sync import follow_activations, put_in_force
from app.settings import Settings
from persistence import database
from persistence import repositories as repo
from persistence.credentials import stored_token_secret
from rules import Program, RulesRegistry

log = logging.getLogger("loyalty")


@dataclass
class Services:
    settings: Settings
    rules: RulesRegistry
    api_keys: ApiKeyVerifier
    tokens: CustomerTokens
    db: TortoiseContext
    """Entered around every request: Tortoise finds its connections through it."""
    auth_throttle: FailedAuthThrottle

    @property
    def program(self) -> Program:
        return self.rules.program


@contextlib.asynccontextmanager
async def running_services(settings: Settings, *, watch_rules: bool = False) -> AsyncIterator[Services]:
    """`watch_rules`: a serving worker, which follows the versions the others put in force and
    (unless settings.rules_watch is off) watches the rules folder."""
    if settings.is_sqlite:
        # The embedded default migrates itself; PostgreSQL is migrated by `loyalty migrate`.
        await database.migrate(settings.database_url)
    else:
        # Said plainly now, rather than as a missing table on the first request.
        await database.check_migrated(settings.database_url)
    db = await database.open_database(settings.database_url, settings.workers)
    try:
        registry = RulesRegistry(settings.rules_dir, quiet_ms=settings.rules_quiet_ms)
        if registry.program is None:
            raise RuntimeError(f"the rules folder {settings.rules_dir} does not load")
        if watch_rules:
            # The folder a serving worker starts with is the newest deploy: in force for all.
            await put_in_force(registry.program)
        else:
            # A tool (`loyalty jobs run`...) stores its version but changes nothing in force.
            await repo.save_rules_version(registry.program.version, registry.program.sources, utcnow())
        secret = (
            settings.token_secret.__str__() if settings.token_secret else await stored_token_secret()
        )
        services = Services(
            settings=settings,
            rules=registry,
            api_keys=ApiKeyVerifier(
                str(settings.bootstrap_api_key) if settings.bootstrap_api_key else None
            ),
            tokens=CustomerTokens(secret, settings.token_ttl_seconds),
            db=db,
            auth_throttle=FailedAuthThrottle(settings.auth_failure_limit, settings.auth_failure_window_seconds),
        )
        # From here on a new version is stored before it goes live (see RulesRegistry).
        registry.on_activate = put_in_force
        tasks = []
        if watch_rules:
            tasks.append(asyncio.create_task(_follow(registry, db, settings), name="rules-sync"))
            if settings.rules_watch:
                tasks.append(asyncio.create_task(_watch(registry, db), name="rules-watcher"))
        try:
            yield services
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await database.close_database(db)


async def _watch(registry: RulesRegistry, db: TortoiseContext) -> None:
    with db:
        await registry.watch()


async def _follow(registry: RulesRegistry, db: TortoiseContext, settings: Settings) -> None:
    with db:
        await follow_activations(registry, settings.rules_sync_ms / 1000)
