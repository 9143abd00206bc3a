"""Tiers over time: the review job that lowers tiers, upgrades on qualifying amounts over
the program's window, and what a customer needs to reach or keep a tier.

A review (the rule files' `tier_qualification.review`) takes, `grace_days` after each
review date, what the customer earned (or spent) over the qualifying window ending at
the review date and within the grace after it, and keeps or lowers their tier
(`domain.tiers.reviewed`). Points redeemed never count against a customer: the amount
is earned points, not the balance. Each review is applied once
(`customers.tier_reviewed_at`), and a lowered tier writes `tier.changed` with reason
`review` in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain import tiers as rules_of_tiers
from domain.customers import Customer
from domain.program import Tier
from domain.tiers import TierProgress, TierReview
from persistence.tier_reviews import ReviewCandidate, TierChange, Verdict
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program

BATCH_SIZE = 5000
_YEAR = timedelta(days=365)


@dataclass(frozen=True)
class ReviewReport:
    customers: int
    lowered: int


async def review_tiers(
    uow: UnitOfWork, program: Program, now: datetime, *, batch_size: int = BATCH_SIZE
) -> ReviewReport:
    """Applies every review whose verdict is due by `now` (review date + grace)."""
    review = program.settings.tier_review
    tiers = sorted(program.tiers, key=lambda t: t.threshold)
    if review is None or len(tiers) < 2:
        return ReviewReport(0, 0)
    now = now.astimezone(UTC)
    verdict_by = now - review.grace
    # Customers reviewed at or after this cannot be due again yet (a superset is read;
    # each candidate's own review date decides).
    if review.anniversary:
        reviewed_before = verdict_by - _YEAR + timedelta(days=1)
    else:
        reviewed_before = review.latest_calendar_review(verdict_by)
    reviewed = lowered = 0
    after_id = 0
    while page := await _candidates(uow, tiers[0].name, reviewed_before, after_id, batch_size):
        after_id = page[-1].id
        due = [(c, review.next_review(c.reached_at, c.reviewed_at)) for c in page]
        due = [(c, date) for c, date in due if date <= verdict_by]
        if not due:
            continue
        async with uow.reading() as session:
            amounts = await session.tiers.qualifying_amounts(
                [(c.id, _start(program, date), date + review.grace) for c, date in due], tiers[0].basis
            )
        verdicts = []
        for candidate, date in due:
            qualified = program.tier_for(int(amounts[candidate.id]), Decimal(amounts[candidate.id]))
            after = rules_of_tiers.reviewed(tiers, candidate.tier, qualified, review.drop_at_most_one_tier)
            day = date.astimezone(program.zone).date()
            verdicts.append(
                Verdict(candidate.id, candidate.external_id, candidate.tier, after or candidate.tier, date, day)
            )
        # The page's verdicts and their events in one transaction: each applied once (the
        # statement's guard), whoever runs the job.
        async with uow.transaction() as session:
            applied, down = await session.tiers.apply_verdicts(verdicts, program.version, now)
        reviewed += applied
        lowered += down
    return ReviewReport(reviewed, lowered)


async def _candidates(
    uow: UnitOfWork, lowest: str, reviewed_before: datetime, after_id: int, limit: int
) -> list[ReviewCandidate]:
    async with uow.reading() as session:
        return await session.tiers.review_candidates(lowest, reviewed_before, after_id, limit)


def _start(program: Program, end: datetime) -> datetime | None:
    """Where the qualifying window that ends at `end` starts (a review's window ends at its
    date, and what is earned within the grace period counts as well)."""
    settings = program.settings
    return rules_of_tiers.window_start(settings.tier_period, settings.tier_rolling_days, end, program.zone)


async def qualifying_amount(session: Session, program: Program, customer_id: int, now: datetime) -> int | Decimal:
    """What the customer's tier counts now: over the program's window ending now."""
    basis = program.tiers[0].basis if program.tiers else "points"
    amounts = await session.tiers.qualifying_amounts([(customer_id, _start(program, now), now)], basis)
    return amounts.get(customer_id, 0)


@dataclass(frozen=True)
class KeepTier:
    review_at: datetime
    """When the tier is next reviewed (the verdict comes `grace_days` later)."""
    remaining: int | Decimal
    """What the customer still needs over the window ending then to keep their tier."""


async def progress(
    uow: UnitOfWork, program: Program, customer: Customer, now: datetime
) -> tuple[TierProgress, KeepTier | None]:
    """How far the next tier is (over the program's window ending now), and what keeping
    the current one at the next review needs."""
    async with uow.reading() as session:
        return await _progress(session, program, customer, now)


async def _progress(
    session: Session, program: Program, customer: Customer, now: datetime
) -> tuple[TierProgress, KeepTier | None]:
    row = await session.tiers.review_candidate(customer.external_id)
    if row is None or program.settings.tier_period == "lifetime":
        points, spend = customer.balance.lifetime_earned, customer.lifetime_spend
    else:
        amount = await qualifying_amount(session, program, row.id, now)
        points, spend = int(amount), Decimal(amount)
    ahead = rules_of_tiers.progress(program.tiers, points, spend)
    review: TierReview | None = program.settings.tier_review
    current = next((t for t in program.tiers if t.name == customer.tier), None)
    lowest = min((t.threshold for t in program.tiers), default=0)
    if row is None or review is None or current is None or current.threshold <= lowest:
        return ahead, None
    review_at = review.next_review(row.reached_at, row.reviewed_at)
    # What already counts toward the review's window: earned from its start until now.
    window = [(row.id, _start(program, review_at), now)]
    have = (await session.tiers.qualifying_amounts(window, current.basis)).get(row.id, 0)
    return ahead, KeepTier(review_at, max(0, current.threshold - have))


async def tier_history(uow: UnitOfWork, external_id: str) -> list[TierChange]:
    async with uow.reading() as session:
        return await session.tiers.tier_history(external_id)


async def tier_after_earning(
    session: Session,
    program: Program,
    customer_id: int,
    current: str | None,
    *,
    lifetime_points: int,
    lifetime_spend: Decimal,
    points_added: int,
    spend_added: Decimal,
    now: datetime,
) -> str | None:
    """The tier after an order or event: up at once when the amount over the program's
    window (lifetime totals, after this one, when the window is the lifetime) reaches a
    higher threshold; never down (returns and redemptions wait for the review)."""
    if program.settings.tier_period == "lifetime":
        points, spend = lifetime_points, lifetime_spend
    else:
        # The window's amounts are at most the lifetime totals (earn and reverse entries,
        # and order spend, of which the window is a part), so when even those leave the
        # tier as it is, so does the window: most orders then skip summing the customer's
        # history over the window (a statement whose cost grows with that history).
        if rules_of_tiers.higher(program.tiers, current, program.tier_for(lifetime_points, lifetime_spend)) == current:
            return current
        before = await qualifying_amount(session, program, customer_id, now)
        points, spend = int(before) + points_added, Decimal(before) + spend_added
    reached: Tier | None = program.tier_for(points, spend)
    return rules_of_tiers.higher(program.tiers, current, reached)
