"""Scheduled jobs (`loyalty jobs run [NAME]`): each run does what is due at `now`, once.

Release, expiry and the expiry notices are set-based: they walk the customers by id
range (`RANGE_SIZE` ids a batch), one transaction per batch, which appends the batch's
entries (`INSERT ... SELECT`), moves the cached balances by what it wrote, and writes the
outbox events (one per customer whose points moved): on PostgreSQL all in one statement,
summed per customer in the database, so no row comes back here (persistence.jobs,
persistence.expiry_notices). Every entry relates to the entry it acts on, under the unique index
on (kind, bucket, related_entry_id): a run killed between two batches and run again, or
two runs at once, write only what is left, so they end in the ledger one run writes.

Expiry follows the program's policy (domain.expiry): per award, an earn entry past its
`expires_at` expires what the customer still has of it, taken as min(what it still holds
in the available bucket, the customer's available points), soonest expiry first; after
inactivity, every credit (earn entries and adjustments) of a customer inactive for the
policy's days expires the same way, oldest first, which takes the whole available balance
unless untraced debits took part of it. Redemptions record which entries' points they
spent (`redemption_lots`), so those never expire; other debits (manual adjustments) are
not traced, and the min() takes them to be the points that expire first. One expiry entry
is written per credit, even of 0 points when everything was spent: it records that the
credit was handled, so that points earned later are never taken by an old expiry.
Pending points are never expired: the release job (which `loyalty jobs run` runs first)
makes them available, and they expire on a run after it.

Two more jobs need the rules in force: referral completion (app.referrals: one transaction
per referral, the friend and then the referrer locked) and the learned-suggestions rebuild
(app.suggestions: one statement over the order history).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app import abandoned_carts, birthdays, expiry_notices, metrics, referrals, suggestions, tier_reviews
from app.redemptions import end_redemption
from domain.errors import DomainError, ErrorCode
from domain.expiry import ExpiryPolicy
from domain.rewards import RedemptionState
from persistence.jobs import Totals
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program

POINTS_PENDING_RELEASED = "points.pending_released"
POINTS_EXPIRED = "points.expired"
BATCH_SIZE = 200
"""Customers read per page by the jobs that still go customer by customer."""
RANGE_SIZE = 5000
"""Customer ids per batch (one transaction) of the set-based jobs; a batch's event rows
are written 2,000 a statement."""

AfterBatch = Callable[[int], Awaitable[None]]
"""Called after each committed batch with the last customer id it covered (tests inject
a fault there to show that a job killed half-way resumes to the same ledger)."""


@dataclass(frozen=True)
class JobReport:
    name: str
    customers: int = 0
    entries: int = 0
    points: int = 0
    said: str = ""
    """The job's own words for what it did, where points and entries are not its measure."""

    def summary(self) -> str:
        if self.said:
            return f"{self.name}: {self.said}"
        return f"{self.name}: {self.points} points in {self.entries} entries for {self.customers} customers"


async def release_pending_points(
    uow: UnitOfWork, now: datetime, *, range_size: int = RANGE_SIZE, after_batch: AfterBatch | None = None
) -> JobReport:
    """Moves pending points whose `available_at` has come to the available bucket."""

    async def batch(session: Session, lo: int, hi: int) -> Totals:
        return await session.jobs.release_batch(lo, hi, now, POINTS_PENDING_RELEASED)

    return await _in_batches(uow, "points-release", batch, now.astimezone(UTC), range_size, after_batch)


async def expire_redemptions(uow: UnitOfWork, now: datetime, *, batch_size: int = BATCH_SIZE) -> JobReport:
    """Unused redemptions whose code has expired give their points back (a REFUND entry;
    points of lots that expired meanwhile lapse, see domain.rewards)."""
    return await _each_customer(uow, "redemption-expiry", _with_expired, _expire_redemptions, now, batch_size)


async def expire_points(
    uow: UnitOfWork,
    now: datetime,
    policy: ExpiryPolicy | None = None,
    *,
    range_size: int = RANGE_SIZE,
    after_batch: AfterBatch | None = None,
) -> JobReport:
    """Takes the points due to expire by `now` under the program's policy (see the module's notes)."""
    policy = policy or ExpiryPolicy()
    inactive_since = policy.inactive_since(now.astimezone(UTC)) if policy.after_inactivity else None

    async def batch(session: Session, lo: int, hi: int) -> Totals:
        return await session.jobs.expire_batch(lo, hi, now, inactive_since, POINTS_EXPIRED)

    return await _in_batches(uow, "points-expiry", batch, now.astimezone(UTC), range_size, after_batch)


async def send_expiry_notices(
    uow: UnitOfWork, now: datetime, policy: ExpiryPolicy, *, range_size: int = RANGE_SIZE
) -> JobReport:
    """`points.expiring` for points that expire within the policy's `notice_days` (app.expiry_notices)."""
    customers, points = await expiry_notices.send_notices(uow, now.astimezone(UTC), policy, range_size)
    said = f"{customers} notices sent, of {points} points expiring"
    return JobReport("expiry-notices", customers=customers, points=points, said=said)


async def complete_referrals(
    uow: UnitOfWork, program: Program, now: datetime, *, batch_size: int = BATCH_SIZE
) -> JobReport:
    """Rewards both sides of every referral whose friend's first order is past its return
    window (see app.referrals)."""
    completed, entries, points = await referrals.complete_due_referrals(uow, program, now, batch_size)
    said = f"{completed} referrals completed, {points} points in {entries} entries"
    return JobReport("referral-completion", completed, entries, points, said)


async def refresh_learned_suggestions(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """Rebuilds the "bought together" pairs from order history (see app.suggestions)."""
    pairs = await suggestions.refresh_learned_pairs(uow, program, now)
    said = "off (no learned_suggestions in the rule files)" if pairs is None else f"{pairs} pairs"
    return JobReport("learned-suggestions", said=said)


async def review_tiers(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """Applies the tier reviews due by `now` (see app.tier_reviews)."""
    report = await tier_reviews.review_tiers(uow, program, now)
    said = f"{report.customers} customers reviewed, {report.lowered} lowered"
    return JobReport("tier-review", customers=report.customers, entries=report.lowered, said=said)


async def celebrate_birthdays(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """`customer.birthday` for every customer whose birthday it is (see app.birthdays)."""
    report = await birthdays.celebrate_birthdays(uow, program, now)
    said = f"{report.customers} birthdays, {report.points} points"
    return JobReport("birthdays", customers=report.customers, points=report.points, said=said)


async def abandon_carts(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """`cart.abandoned` for every cart left without an order (see app.abandoned_carts)."""
    report = await abandoned_carts.abandon_carts(uow, program, now)
    said = f"{report.carts} carts abandoned, worth {report.points} points to their customers"
    # `customers`: carts abandoned (one customer's each); `points`: what they would have earned.
    return JobReport("abandoned-carts", customers=report.carts, points=report.points, said=said)


Job = Callable[[UnitOfWork, datetime, Program], Awaitable[JobReport]]

JOBS: dict[str, Job] = {
    # `loyalty serve` schedules every job listed here (app.scheduler), in this order.
    # In this order: points released by the first may expire in points-expiry, and so may
    # points an expired redemption gives back.
    "points-release": lambda uow, now, program: release_pending_points(uow, now),
    "redemption-expiry": lambda uow, now, program: expire_redemptions(uow, now),
    "points-expiry": lambda uow, now, program: expire_points(uow, now, program.settings.expiry),
    # After the expiry: points that expired are not announced as expiring.
    "expiry-notices": lambda uow, now, program: send_expiry_notices(uow, now, program.settings.expiry),
    "referral-completion": lambda uow, now, program: complete_referrals(uow, program, now),
    "learned-suggestions": lambda uow, now, program: refresh_learned_suggestions(uow, program, now),
    "tier-review": lambda uow, now, program: review_tiers(uow, program, now),
    "birthdays": lambda uow, now, program: celebrate_birthdays(uow, program, now),
    "abandoned-carts": lambda uow, now, program: abandon_carts(uow, program, now),
}


def job_named(name: str) -> Job:
    if name not in JOBS:
        raise DomainError(ErrorCode.NOT_FOUND, f"No job is called '{name}'; the jobs are {', '.join(JOBS)}.", ["name"])
    return JOBS[name]


async def run_jobs(uow: UnitOfWork, name: str | None, now: datetime, program: Program) -> list[JobReport]:
    """One job by name, or every job in order, under the rules in force (`program`), without
    leases (app.scheduler runs them with leases)."""
    if name is not None:
        job_named(name)
    return [await run_job(uow, job_name, now, program) for job_name in JOBS if name in (None, job_name)]


async def run_job(uow: UnitOfWork, name: str, now: datetime, program: Program) -> JobReport:
    """One job, counted and timed for /metrics, whoever runs it (the scheduler or `jobs run`)."""
    job = job_named(name)
    started = time.perf_counter()
    outcome = "failed"
    try:
        report = await job(uow, now, program)
        outcome = "ok"
    except asyncio.CancelledError:
        outcome = "stopped"
        raise
    finally:
        metrics.JOB_RUNS.labels(name, outcome).inc()
        metrics.JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
    metrics.ledger_written(f"job:{name}", report.entries)
    return report


Page = list[tuple[int, str]]
Pager = Callable[[Session, datetime, int, int], Awaitable[Page]]
"""(customer id, external id) of the customers with something due, by id after `after_id`."""
PerCustomer = Callable[[UnitOfWork, str, datetime], Awaitable[tuple[int, int]]]


async def _with_expired(session: Session, now: datetime, after_id: int, limit: int) -> Page:
    return await session.redemptions.customers_with_expired(now, after_id, limit)


async def _each_customer(
    uow: UnitOfWork, name: str, pager: Pager, one: PerCustomer, now: datetime, batch_size: int
) -> JobReport:
    now = now.astimezone(UTC)
    customers = entries = points = 0
    after_id = 0
    while page := await _page(uow, pager, now, after_id, batch_size):
        for customer_id, external_id in page:
            written, moved = await one(uow, external_id, now)
            customers += 1 if written else 0
            entries += written
            points += moved
            after_id = customer_id
    return JobReport(name, customers, entries, points)


async def _page(uow: UnitOfWork, pager: Pager, now: datetime, after_id: int, batch_size: int) -> Page:
    async with uow.reading() as session:
        return await pager(session, now, after_id, batch_size)


async def _expire_redemptions(uow: UnitOfWork, external_id: str, now: datetime) -> tuple[int, int]:
    entries = points = 0
    async with uow.transaction() as session:
        customer = await session.customers.lock_customer(external_id, ["customer_external_id"])
        for stored in await session.redemptions.expired_of(customer.id, now):
            refund = await end_redemption(session, customer, stored, RedemptionState.EXPIRED, now)
            if refund is not None:
                entries += 1
                points += refund.points_refunded
    return entries, points


Batch = Callable[[Session, int, int], Awaitable[Totals]]


async def _in_batches(
    uow: UnitOfWork,
    name: str,
    batch: Batch,
    now: datetime,
    range_size: int,
    after_batch: AfterBatch | None,
) -> JobReport:
    """Runs `batch` over customer ids (lo, lo + range_size], one transaction each: its
    entries, the balances they move, and one event per customer whose points moved (the
    points out of the pending bucket for a release, out of the available one for an
    expiry; persistence.jobs)."""
    customers = entries = points = 0
    async with uow.reading() as session:
        top = await session.jobs.last_customer_id()
    for lo in range(0, top, range_size):
        hi = lo + range_size
        async with uow.transaction() as session:
            done = await batch(session, lo, hi)
        customers += done.customers
        entries += done.entries
        points += done.points
        if after_batch is not None:
            await after_batch(hi)
    return JobReport(name, customers, entries, points)
