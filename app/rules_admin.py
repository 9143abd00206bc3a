"""Use cases on the rules in force: reload the rules folder, describe the active version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.program import Reward, Tier
from persistence.unit_of_work import UnitOfWork
from rules import RuleError, RulesRegistry


@dataclass(frozen=True)
class ReloadResult:
    version: str
    """The version in force after the reload: the new one, or the old one on errors."""
    activated: bool
    """True when this reload put a different version in force."""
    errors: tuple[RuleError, ...]


@dataclass(frozen=True)
class RulesVersionInfo:
    version: str
    activated_at: datetime | None
    tiers: tuple[Tier, ...]
    rewards: tuple[Reward, ...]
    currency: str
    """The program's, which the rewards' amounts are in."""


async def reload_rules(registry: RulesRegistry) -> ReloadResult:
    """The registry's hook (set by app.bootstrap) stores a new version before it goes live."""
    before = registry.program.version
    version, errors = await registry.reload_async()
    if errors:
        return ReloadResult(version, activated=False, errors=tuple(errors))
    return ReloadResult(version, activated=version != before, errors=())


async def rules_version(uow: UnitOfWork, registry: RulesRegistry) -> RulesVersionInfo:
    program = registry.program
    async with uow.reading() as session:
        activated_at = await session.customers.rules_version_stored_at(program.version)
    return RulesVersionInfo(
        version=program.version,
        activated_at=activated_at,
        tiers=program.tiers,
        rewards=program.rewards,
        currency=program.exchange.program_currency,
    )
