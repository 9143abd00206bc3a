"""Names of the reward events the outbox records (the partner-facing contract)."""

CUSTOMER_ENROLLED = "customer.enrolled"
POINTS_EARNED = "points.earned"
POINTS_ADJUSTED = "points.adjusted"
POINTS_REVERSED = "points.reversed"
TIER_CHANGED = "tier.changed"
