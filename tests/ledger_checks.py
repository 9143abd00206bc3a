"""Checks on what the database holds behind the API: the outbox, and balances against the
ledger entries they must sum."""

from __future__ import annotations

from persistence import models
from persistence import repositories as repo


async def outbox(customer: str, event_type: str) -> list[dict]:
    rows = await models.RewardEvent.filter(customer_external_id=customer, type=event_type).order_by("id")
    return [row.payload for row in rows]


async def assert_points_are_the_sum_of_entries(points: dict, customer: str) -> None:
    """`points` as the API shows them ({available, pending, lifetimeEarned})."""
    sums = await repo.ledger_sums(customer)
    assert (points["available"], points["pending"], points["lifetimeEarned"]) == (
        sums.available,
        sums.pending,
        sums.lifetime_earned,
    )


async def events_of(customer: str) -> list[tuple[str, dict]]:
    """Every outbox event of the customer, in its own sequence: (type, payload)."""
    rows = await models.RewardEvent.filter(customer_external_id=customer).order_by("customer_sequence")
    return [(row.type, row.payload) for row in rows]
