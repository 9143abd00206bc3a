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
    if settings.is_sqlite:
        # The embedded default migrates itself; PostgreSQL is migrated by `loyalty migrate`.
        await database.migrate(settings.database_url)
    else:
        # Said plainly now, rather than as a missing table on the first request.
        await database.check_migrated(settings.database_url)
    db = await database.open_database(settings.database_url)
    try:
        pending_versions: list[Program] = []
        registry = RulesRegistry(settings.rules_dir, on_activate=pending_versions.append)
        if registry.program is None:
            raise RuntimeError(f"the rules folder {settings.rules_dir} does not load")
        for program in [registry.program, *pending_versions]:
            await repo.save_rules_version(program.version, program.sources, utcnow())
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
        registry.on_activate = _persist_version
        watcher = None
        if watch_rules:
            watcher = asyncio.create_task(_watch(registry, db), name="rules-watcher")
        try:
            yield services
        finally:
            if watcher:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
    finally:
        await database.close_database(db)


async def _watch(registry: RulesRegistry, db: TortoiseContext) -> None:
    with db:
        await registry.watch()


async def _persist_version(program: Program) -> None:
    """Keep every activated version, so the ledger can always say what awarded what."""
    await repo.save_rules_version(program.version, program.sources, utcnow())
