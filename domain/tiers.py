"""Which tier a customer is in, and how far the next one is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.program import Tier


@dataclass(frozen=True)
class TierProgress:
    current: Tier | None
    next_tier: Tier | None
    remaining: int | Decimal
    """Points (or spend, for a spend-based tier) still needed for `next_tier`; 0 at the top."""


def _measure(tier: Tier, points: int, spend: Decimal) -> int | Decimal:
    return spend if tier.basis == "spend" else points


def tier_for(tiers: Sequence[Tier], points: int, spend: Decimal) -> Tier | None:
    reached = [t for t in tiers if _measure(t, points, spend) >= t.threshold]
    return max(reached, key=lambda t: t.threshold, default=None)


def progress(tiers: Sequence[Tier], points: int, spend: Decimal) -> TierProgress:
    current = tier_for(tiers, points, spend)
    above = sorted(
        (t for t in tiers if _measure(t, points, spend) < t.threshold), key=lambda t: t.threshold
    )
    if not above:
        return TierProgress(current, None, 0)
    nxt = above[0]
    return TierProgress(current, nxt, nxt.threshold - _measure(nxt, points, spend))
