"""Tier reviews: the policy the rule files choose, its dates, and what a review leaves."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from app import tier_reviews
from domain.program import Tier
from domain.tiers import TierReview, higher, reviewed, window_start
from tests.unit.rules.rules_testkit import TIERS, errors_of, program_of

BRONZE, SILVER, GOLD = Tier("Bronze", 0), Tier("Silver", 1000), Tier("Gold", 5000)
LADDER = (BRONZE, SILVER, GOLD)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def test_a_review_policy_is_read_from_the_tier_qualification():
    program = program_of(
        TIERS,
        """
        tier_qualification:
          period: {rolling_days: 365}
          review: {date: 01-15}
          grace_days: 30
          drop_at_most_one_tier: true
        """,
    )
    assert program.settings.tier_review == TierReview(
        anniversary=False, month=1, day=15, grace_days=30, drop_at_most_one_tier=True
    )


def test_a_review_date_that_is_not_in_every_year_is_an_error_at_its_line():
    errors = errors_of(
        **{"tiers.yaml": TIERS, "q.yaml": "tier_qualification:\n  period: calendar_year\n  review: {date: 02-29}\n"}
    )
    assert len(errors) == 1 and errors[0].startswith("q.yaml:3:") and "02-29" in errors[0]


def test_a_review_over_a_lifetime_period_is_an_error():
    errors = errors_of(**{"tiers.yaml": TIERS, "q.yaml": "tier_qualification:\n  review: anniversary\n"})
    assert len(errors) == 1 and errors[0].startswith("q.yaml:2:") and "lifetime" in errors[0]


def test_a_grace_period_without_a_review_is_an_error():
    errors = errors_of(**{"tiers.yaml": TIERS, "q.yaml": "tier_qualification:\n  grace_days: 10\n"})
    assert len(errors) == 1 and errors[0].startswith("q.yaml:2:") and "needs a 'review'" in errors[0]


def test_an_anniversary_of_february_29_falls_on_february_28_in_other_years():
    review = TierReview(anniversary=True)
    assert review.next_review(at(2024, 2, 29), None) == at(2025, 2, 28)
    assert review.next_review(at(2024, 2, 29), at(2027, 2, 28)) == at(2028, 2, 29)


def test_a_calendar_review_comes_on_its_date_after_the_last_one():
    review = TierReview(anniversary=False, month=1, day=1)
    assert review.next_review(at(2025, 6, 3), None) == at(2026, 1, 1)
    assert review.next_review(at(2025, 6, 3), at(2026, 1, 1)) == at(2027, 1, 1)
    assert review.latest_calendar_review(at(2026, 3, 1)) == at(2026, 1, 1)


def test_windows_end_at_the_review():
    assert window_start("rolling", 365, at(2026, 1, 1)) == at(2025, 1, 1)
    assert window_start("calendar_year", None, at(2026, 1, 1)) == at(2025, 1, 1)
    assert window_start("lifetime", None, at(2026, 1, 1)) is None


def test_crossing_a_threshold_only_ever_raises_a_tier():
    assert higher(LADDER, "Silver", GOLD) == "Gold"
    assert higher(LADDER, "Gold", SILVER) == "Gold"
    assert higher(LADDER, None, BRONZE) == "Bronze"


def test_a_review_lowers_to_what_was_qualified_for_or_one_step_at_most():
    assert reviewed(LADDER, "Gold", BRONZE, drop_at_most_one=False) == "Bronze"
    assert reviewed(LADDER, "Gold", BRONZE, drop_at_most_one=True) == "Silver"
    assert reviewed(LADDER, "Gold", GOLD, drop_at_most_one=False) == "Gold"
    assert reviewed(LADDER, "Silver", GOLD, drop_at_most_one=False) == "Silver"


async def test_an_order_sums_its_window_only_when_the_lifetime_totals_could_raise_the_tier():
    program = program_of(TIERS, "tier_qualification:\n  period: {rolling_days: 365}\n")
    summed: list[object] = []

    async def window_sums(windows: object, basis: str) -> dict[int, int]:
        summed.append(windows)
        return {7: 850}

    session = SimpleNamespace(tiers=SimpleNamespace(qualifying_amounts=window_sums))

    async def tier_after(current: str | None, lifetime_points: int) -> str | None:
        return await tier_reviews.tier_after_earning(
            cast(Any, session),
            program,
            7,
            current,
            lifetime_points=lifetime_points,
            lifetime_spend=Decimal(0),
            points_added=150,
            spend_added=Decimal(0),
            now=at(2026, 3, 1),
        )

    # The window is part of the lifetime: totals that reach nothing higher need no sum.
    assert await tier_after("Gold", 90_000) == "Gold"
    assert await tier_after("Bronze", 999) == "Bronze"
    assert summed == []
    # Totals that could: the window decides (850 + this order's 150 reach Silver, not Gold).
    assert await tier_after("Bronze", 6_000) == "Silver"
    assert await tier_after("Silver", 6_000) == "Silver"
    assert len(summed) == 2
