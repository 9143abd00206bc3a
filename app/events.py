"""Names of the reward events the outbox records (the partner-facing contract)."""

from __future__ import annotations

from domain.program import Evaluation

CUSTOMER_ENROLLED = "customer.enrolled"
POINTS_EARNED = "points.earned"
POINTS_ADJUSTED = "points.adjusted"
POINTS_REVERSED = "points.reversed"
TIER_CHANGED = "tier.changed"
POINTS_REDEEMED = "points.redeemed"
REWARD_REDEEMED = "reward.redeemed"
POINTS_REFUNDED = "points.refunded"
"""A cancelled or expired redemption gave its points back."""


def earning_events(
    customer_external_id: str,
    source: dict[str, str],
    evaluation: Evaluation,
    points: int,
    tier_before: str | None,
    tier_after: str | None,
) -> list[tuple[str, str | None, dict]]:
    """`points.earned` (naming what earned them, e.g. the order) and `tier.changed`."""
    events: list[tuple[str, str | None, dict]] = []
    if points:
        rules = [{"ruleId": a.rule_id, "points": a.points} for a in evaluation.awards]
        payload = {**source, "points": points, "rulesVersion": evaluation.rules_version, "rules": rules}
        events.append((POINTS_EARNED, customer_external_id, payload))
    if tier_after != tier_before:
        events.append((TIER_CHANGED, customer_external_id, {"from": tier_before, "to": tier_after}))
    return events
