"""Points credited by hand count toward a tier only when the adjustment says so
(`adjustPoints(countsTowardTier: true)`): in the lifetime earned, at once for an upgrade,
and in the qualifying window of a tier review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.clock import Clock, utcnow
from app.jobs import run_jobs
from tests.conftest import Server, unique
from tests.e2e.conftest import GRACE_DAYS, program_of, uow_of
from tests.e2e.test_tier_reviews import standing
from tests.graphql_client import ADJUST, CUSTOMER, enroll, gql
from tests.ledger_checks import assert_points_are_the_sum_of_entries, outbox


@pytest.fixture
def moved_clock(moved_clock: Clock) -> Clock:
    """Started in the past: the events these tests write are dated by the moved clock, and
    ones dated in the future would still count as new to a webhook a later test registers."""
    moved_clock.move_to(datetime(2001, 3, 1, 12, tzinfo=UTC))
    return moved_clock


async def adjust(server: Server, customer: str, points: int, **more: object) -> None:
    async with server.client() as admin:
        data = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": points, "reason": "x", **more})
    assert data["adjustPoints"]["errors"] == []


async def points_of(server: Server, customer: str) -> dict:
    async with server.client() as admin:
        return (await gql(admin, CUSTOMER, id=customer))["customer"]["points"]


async def test_a_manual_credit_moves_no_tier_unless_it_says_it_counts(server: Server):
    customer = unique("cust")
    async with server.client() as admin:
        await enroll(admin, customer)

    await adjust(server, customer, 600)
    assert (await standing(server, customer))["tier"] == {"name": "Bronze"}
    assert (await points_of(server, customer))["lifetimeEarned"] == 0

    await adjust(server, customer, 600, countsTowardTier=True)
    seen = await standing(server, customer)
    assert seen["tier"] == {"name": "Silver"}
    assert (seen["tierHistory"][-1]["fromTier"], seen["tierHistory"][-1]["toTier"]) == ("Bronze", "Silver")
    assert [e["to"] for e in await outbox(customer, "tier.changed")] == ["Silver"]
    balance = await points_of(server, customer)
    assert balance == {"available": 1200, "pending": 0, "lifetimeEarned": 600}
    await assert_points_are_the_sum_of_entries(balance, customer)


async def test_only_counting_credits_keep_a_tier_at_its_review(review_server, moved_clock: Clock):
    kept, lowered = unique("cust"), unique("cust")
    async with review_server.client() as admin:
        await enroll(admin, kept)
        await enroll(admin, lowered)
    await adjust(review_server, kept, 600, countsTowardTier=True)
    await adjust(review_server, lowered, 600, countsTowardTier=True)
    assert (await standing(review_server, lowered))["tier"] == {"name": "Silver"}

    # The first review counts the credits that raised them; within the second review's
    # window, one counting credit and one that does not count.
    moved_clock.advance(timedelta(days=365 + GRACE_DAYS + 1))
    await run_jobs(uow_of(review_server), "tier-review", utcnow(), program_of(review_server))
    assert (await standing(review_server, lowered))["tier"] == {"name": "Silver"}
    await adjust(review_server, kept, 500, countsTowardTier=True)
    await adjust(review_server, lowered, 500)
    moved_clock.advance(timedelta(days=365))
    await run_jobs(uow_of(review_server), "tier-review", utcnow(), program_of(review_server))

    assert (await standing(review_server, kept))["tier"] == {"name": "Silver"}
    assert (await standing(review_server, lowered))["tier"] == {"name": "Bronze"}
