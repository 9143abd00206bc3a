"""Names of the reward events the outbox records (the partner-facing contract)."""

from __future__ import annotations

from domain.ledger import Balance
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
REFERRAL_COMPLETED = "referral.completed"
CART_ABANDONED = "cart.abandoned"

# Every type a partner may subscribe to: those written today and those the contract
# names for features still to come (expiry notices, carts, referrals).
EVENT_TYPES = (
    CUSTOMER_ENROLLED,
    POINTS_EARNED,
    POINTS_ADJUSTED,
    "points.pending_released",
    POINTS_REDEEMED,
    POINTS_REFUNDED,
    "points.expired",
    POINTS_REVERSED,
    "points.expiring",
    TIER_CHANGED,
    REWARD_REDEEMED,
    CART_ABANDONED,
    REFERRAL_COMPLETED,
)


def earning_events(
    customer_external_id: str,
    source: dict[str, str],
    evaluation: Evaluation,
    points: int,
    tier_before: str | None,
    tier_after: str | None,
    balance: Balance,
) -> list[tuple[str, str | None, dict]]:
    """`points.earned` (naming what earned them, e.g. the order) and `tier.changed`."""
    events: list[tuple[str, str | None, dict]] = []
    if points:
        rules = [{"ruleId": a.rule_id, "points": a.points} for a in evaluation.awards]
        payload = {
            **source,
            "points": points,
            "balanceAfter": balance_payload(balance),
            "rulesVersion": evaluation.rules_version,
            "rules": rules,
        }
        events.append((POINTS_EARNED, customer_external_id, payload))
    if tier_after != tier_before:
        # Tier history is these events: from, to, why (reason), when, rules version.
        payload = {
            **source,
            "from": tier_before,
            "to": tier_after,
            "reason": "threshold",
            "rulesVersion": evaluation.rules_version,
        }
        events.append((TIER_CHANGED, customer_external_id, payload))
    return events


def balance_payload(balance: Balance) -> dict[str, int]:
    return {"available": balance.available, "pending": balance.pending, "lifetimeEarned": balance.lifetime_earned}
