"""Every worker runs the rules version in force: the newest activation in the database.

A worker that activates a version (its folder watcher, `reloadRules`, start-up) stores it and
records an activation before the version goes live there (see app.bootstrap); every worker
polls the newest activation and adopts the stored sources of a version it does not run.
Polling works the same on SQLite and PostgreSQL and costs one indexed read per worker per
interval; the interval (LOYALTY_RULES_SYNC_MS, 500 ms) plus a compile bounds how long two
workers can evaluate orders under different versions. A serving worker is also told of
each activation by the event bus (NOTIFY, or Redis when configured) and reads it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.clock import utcnow
from persistence.unit_of_work import UnitOfWork
from rules import Program, RulesRegistry

log = logging.getLogger(__name__)


async def put_in_force(uow: UnitOfWork, program: Program) -> None:
    """Store the version (the ledger names it forever) and tell every worker to run it."""
    now = utcnow()
    async with uow.transaction() as session:
        await session.customers.save_rules_version(program.version, program.sources, now)
        await session.rules_activations.record_activation(program.version, now)


async def store_rules_version(uow: UnitOfWork, program: Program) -> None:
    """Store the version without putting it in force (a tool's, such as `loyalty jobs run`)."""
    async with uow.transaction() as session:
        await session.customers.save_rules_version(program.version, program.sources, utcnow())


async def follow_activations(
    uow: UnitOfWork, registry: RulesRegistry, interval: float, told: asyncio.Event | None = None
) -> None:
    """Adopt each version another worker puts in force, until cancelled. Never dies.
    `told` is set by the event bus when a worker records an activation: read at once
    instead of at the next poll."""
    seen: int | None = None
    while True:
        try:
            async with uow.reading() as session:
                latest = await session.rules_activations.latest_activation()
            if latest is not None and latest[0] != seen:
                seen, version = latest
                if version != registry.program.version:
                    async with uow.reading() as session:
                        sources = await session.customers.rules_version_sources(version)
                    if sources is None:
                        log.error("rules version %s is in force but not stored", version)
                    elif await registry.adopt(version, sources):
                        log.info("rules version %s adopted from another worker", version)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a database hiccup must not stop the following
            log.warning("could not read the rules version in force; retrying", exc_info=True)
        if told is None:
            await asyncio.sleep(interval)
            continue
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(interval):
                await told.wait()
        told.clear()
