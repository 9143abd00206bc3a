"""Use cases on the rules in force: reload the rules folder, describe the active version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.clock import utcnow
from domain.program import Reward, Tier
from persistence import repositories as repo
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


async def reload_rules(registry: RulesRegistry) -> ReloadResult:
    before = registry.program.version
    # Synchronous on purpose: the registry's activation hook may schedule work on the
    # running loop, which it cannot find from a worker thread. Loading blocks the loop for
    # as long as a compile takes (a 5,000-rule folder: ~0.6 s), acceptable for an admin call.
    _, errors = registry.reload()
    program = registry.program
    if errors:
        return ReloadResult(program.version, activated=False, errors=tuple(errors))
    # Awaited here, not left to the hook: once the caller hears "activated", entries that
    # name this version can be written, and the ledger must always be able to resolve it.
    await repo.save_rules_version(program.version, program.sources, utcnow())
    return ReloadResult(program.version, activated=program.version != before, errors=())


async def rules_version(registry: RulesRegistry) -> RulesVersionInfo:
    program = registry.program
    return RulesVersionInfo(
        version=program.version,
        activated_at=await repo.rules_version_stored_at(program.version),
        tiers=program.tiers,
        rewards=program.rewards,
    )
