"""Tiers over time, with a moved clock: up at once, down only at a review (after its grace),
never for spending points; history, tierProgress and tier.changed events follow."""

from __future__ import annotations

from datetime import timedelta

from app.clock import Clock, utcnow
from app.scheduler import run_jobs
from tests.conftest import Server, unique
from tests.e2e.conftest import GRACE_DAYS, program_of, uow_of
from tests.e2e.test_jobs import assert_balance_is_the_sum_of_entries, outbox
from tests.graphql_client import ADJUST, RECORD_ORDER, enroll, gql, order_input

STANDING = """
query($id: String!) {
  customer(externalId: $id) {
    tier { name }
    tierProgress { nextTier { name } remaining nextReviewAt remainingToKeep }
    tierHistory { fromTier toTier reason changedAt rulesVersion }
  }
}"""


async def order(server: Server, customer: str, amount: str) -> None:
    async with server.client() as admin:
        data = await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, amount)))
    assert data["recordOrder"]["errors"] == []


async def standing(server: Server, customer: str) -> dict:
    async with server.client() as admin:
        return (await gql(admin, STANDING, id=customer))["customer"]


async def silver_customer(server: Server) -> str:
    customer = unique("cust")
    async with server.client() as admin:
        await enroll(admin, customer)
    await order(server, customer, "600.00")
    return customer


async def test_a_customer_away_a_year_drops_at_the_next_review_once_its_grace_is_over(
    review_server, moved_clock: Clock
):
    customer = await silver_customer(review_server)
    seen = await standing(review_server, customer)
    assert seen["tier"] == {"name": "Silver"}
    assert seen["tierHistory"][-1]["toTier"] == "Silver" and seen["tierHistory"][-1]["reason"] == "threshold"
    first_review = seen["tierProgress"]["nextReviewAt"]
    assert first_review is not None and seen["tierProgress"]["remainingToKeep"] == 0

    # Spending every point changes nothing: tiers count points earned, not the balance.
    async with review_server.client() as admin:
        spent = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": -600, "reason": "spent"})
    assert spent["adjustPoints"]["errors"] == []

    # The first review looks at the year that earned the tier: kept.
    moved_clock.advance(timedelta(days=365 + GRACE_DAYS + 1))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))
    kept = await standing(review_server, customer)
    assert kept["tier"] == {"name": "Silver"}
    assert kept["tierProgress"]["nextReviewAt"] > first_review and kept["tierProgress"]["remainingToKeep"] == 500

    # A year without orders: lowered at the next one, once, however many runs.
    moved_clock.advance(timedelta(days=365 - GRACE_DAYS - 5))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))
    assert (await standing(review_server, customer))["tier"] == {"name": "Silver"}
    moved_clock.advance(timedelta(days=GRACE_DAYS + 5))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))

    after = await standing(review_server, customer)
    assert after["tier"] == {"name": "Bronze"}
    assert [(c["fromTier"], c["toTier"], c["reason"]) for c in after["tierHistory"]][-1] == (
        "Silver",
        "Bronze",
        "review",
    )
    lowered = [e for e in await outbox(customer, "tier.changed") if e["reason"] == "review"]
    assert len(lowered) == 1 and lowered[0]["rulesVersion"]
    await assert_balance_is_the_sum_of_entries(review_server, customer)


async def test_points_earned_within_the_grace_keep_the_tier(review_server, moved_clock: Clock):
    customer = await silver_customer(review_server)
    moved_clock.advance(timedelta(days=365 + GRACE_DAYS + 1))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))

    moved_clock.advance(timedelta(days=365 - GRACE_DAYS + 5))
    await order(review_server, customer, "500.00")
    moved_clock.advance(timedelta(days=GRACE_DAYS))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))

    assert (await standing(review_server, customer))["tier"] == {"name": "Silver"}
    assert [e for e in await outbox(customer, "tier.changed") if e["reason"] == "review"] == []


async def test_after_a_downgrade_the_tier_is_regained_only_on_points_of_the_window(review_server, moved_clock: Clock):
    customer = await silver_customer(review_server)
    moved_clock.advance(timedelta(days=365 + GRACE_DAYS + 1))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))
    moved_clock.advance(timedelta(days=365))
    await run_jobs(uow_of(review_server), None, utcnow(), program_of(review_server))
    assert (await standing(review_server, customer))["tier"] == {"name": "Bronze"}

    # 600 lifetime points no longer count: only the last year's.
    await order(review_server, customer, "100.00")
    assert (await standing(review_server, customer))["tier"] == {"name": "Bronze"}
    await order(review_server, customer, "400.00")
    assert (await standing(review_server, customer))["tier"] == {"name": "Silver"}
