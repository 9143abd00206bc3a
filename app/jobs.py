"""Scheduled jobs (`loyalty jobs run [NAME]`): each run does what is due at `now`, once.

Every job walks the customers with something due, one transaction per customer with the
customer locked, and relates each entry it appends to the earn entry it acts on. The
unique index on (kind, bucket, related_entry_id) then makes a second run, or two runs at
once, a no-op for whatever the first already did; the cached balance moves by exactly the
entries written.

Expiry: an earn entry past its `expires_at` expires what the customer still has of it,
taken as min(what it still holds in the available bucket, the customer's available points
at the time of the run), oldest expiry first. Redemptions record which entries' points they
spent (`redemption_lots`), so those never expire; other debits (manual adjustments) are
not traced, and the min() takes them to be the points that expire first. One expiry entry
is written per earn entry, even of 0 points when everything was spent: it records that
the entry was handled, so that points earned later are never taken by an old expiry.
Pending points that were never released are left to the release job (which `loyalty jobs
run` runs first) and expire on the run after their release.

Two more jobs need the rules in force: referral completion (app.referrals: one transaction
per referral, the friend and then the referrer locked) and the learned-suggestions rebuild
(app.suggestions: one statement over the order history).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app import abandoned_carts, birthdays, metrics, referrals, suggestions, tier_reviews
from app.events import balance_payload
from app.redemptions import end_redemption
from domain.errors import DomainError, ErrorCode
from domain.ledger import Bucket, EntryKind, NewEntry
from domain.rewards import RedemptionState
from persistence.entries import LinkedEntry
from persistence.jobs import DueEntry
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program

POINTS_PENDING_RELEASED = "points.pending_released"
POINTS_EXPIRED = "points.expired"
BATCH_SIZE = 200
"""Customers read per page; each is still its own transaction."""


@dataclass(frozen=True)
class JobReport:
    name: str
    customers: int = 0
    entries: int = 0
    points: int = 0

    def summary(self) -> str:
        return f"{self.name}: {self.points} points in {self.entries} entries for {self.customers} customers"


async def release_pending_points(uow: UnitOfWork, now: datetime, *, batch_size: int = BATCH_SIZE) -> JobReport:
    """Moves pending points whose `available_at` has come to the available bucket."""
    return await _each_customer(uow, "points-release", _with_releases, _release, now, batch_size)


async def expire_redemptions(uow: UnitOfWork, now: datetime, *, batch_size: int = BATCH_SIZE) -> JobReport:
    """Unused redemptions whose code has expired give their points back (a REFUND entry;
    points of lots that expired meanwhile lapse, see domain.rewards)."""
    return await _each_customer(uow, "redemption-expiry", _with_expired, _expire_redemptions, now, batch_size)


async def expire_points(uow: UnitOfWork, now: datetime, *, batch_size: int = BATCH_SIZE) -> JobReport:
    """Takes unspent points of earn entries past their `expires_at` (see the module's notes)."""
    return await _each_customer(uow, "points-expiry", _with_expiries, _expire, now, batch_size)


async def complete_referrals(
    uow: UnitOfWork, program: Program, now: datetime, *, batch_size: int = BATCH_SIZE
) -> JobReport:
    """Rewards both sides of every referral whose friend's first order is past its return
    window (see app.referrals)."""
    completed, entries, points = await referrals.complete_due_referrals(uow, program, now, batch_size)
    return JobReport("referral-completion", completed, entries, points)


async def refresh_learned_suggestions(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """Rebuilds the "bought together" pairs from order history (see app.suggestions)."""
    pairs = await suggestions.refresh_learned_pairs(uow, program, now)
    return LearnedReport("learned-suggestions", pairs=pairs)


@dataclass(frozen=True)
class LearnedReport(JobReport):
    pairs: int | None = None

    def summary(self) -> str:
        if self.pairs is None:
            return f"{self.name}: off (no learned_suggestions in the rule files)"
        return f"{self.name}: {self.pairs} pairs"


async def review_tiers(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """Applies the tier reviews due by `now` (see app.tier_reviews)."""
    report = await tier_reviews.review_tiers(uow, program, now)
    return JobReport("tier-review", customers=report.customers, entries=report.lowered)


async def celebrate_birthdays(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """`customer.birthday` for every customer whose birthday it is (see app.birthdays)."""
    report = await birthdays.celebrate_birthdays(uow, program, now)
    return JobReport("birthdays", customers=report.customers, points=report.points)


async def abandon_carts(uow: UnitOfWork, program: Program, now: datetime) -> JobReport:
    """`cart.abandoned` for every cart left without an order (see app.abandoned_carts)."""
    report = await abandoned_carts.abandon_carts(uow, program, now)
    return CartsReport("abandoned-carts", customers=report.carts, points=report.points)


@dataclass(frozen=True)
class CartsReport(JobReport):
    """`customers`: carts abandoned (one customer's each); `points`: what they would have earned."""

    def summary(self) -> str:
        return f"{self.name}: {self.customers} carts abandoned, worth {self.points} points to their customers"


Job = Callable[[UnitOfWork, datetime, Program], Awaitable[JobReport]]

JOBS: dict[str, Job] = {
    # `loyalty serve` schedules every job listed here (app.scheduler), in this order.
    # In this order: points released by the first may expire in points-expiry, and so may
    # points an expired redemption gives back.
    "points-release": lambda uow, now, program: release_pending_points(uow, now),
    "redemption-expiry": lambda uow, now, program: expire_redemptions(uow, now),
    "points-expiry": lambda uow, now, program: expire_points(uow, now),
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
    finally:
        metrics.JOB_RUNS.labels(name, outcome).inc()
        metrics.JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
    metrics.ledger_written(f"job:{name}", report.entries)
    return report


Page = list[tuple[int, str]]
Pager = Callable[[Session, datetime, int, int], Awaitable[Page]]
"""(customer id, external id) of the customers with something due, by id after `after_id`."""
PerCustomer = Callable[[UnitOfWork, str, datetime], Awaitable[tuple[int, int]]]


async def _with_releases(session: Session, now: datetime, after_id: int, limit: int) -> Page:
    return await session.jobs.customers_with_releases(now, after_id, limit)


async def _with_expired(session: Session, now: datetime, after_id: int, limit: int) -> Page:
    return await session.redemptions.customers_with_expired(now, after_id, limit)


async def _with_expiries(session: Session, now: datetime, after_id: int, limit: int) -> Page:
    return await session.jobs.customers_with_expiries(now, after_id, limit)


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


async def _release(uow: UnitOfWork, external_id: str, now: datetime) -> tuple[int, int]:
    async with uow.transaction() as session:
        customer = await session.customers.lock_customer(external_id, ["customer_external_id"])
        pending = customer.points_pending
        linked: list[LinkedEntry] = []
        for due in await session.jobs.due_releases(customer.id, now):
            points = min(due.points, pending)
            if points <= 0:
                continue
            pending -= points
            linked += [
                LinkedEntry(_entry(EntryKind.RELEASE, Bucket.PENDING, -points, due, now), related_entry_id=due.id),
                LinkedEntry(_entry(EntryKind.RELEASE, Bucket.AVAILABLE, points, due, now), related_entry_id=due.id),
            ]
        written = await session.ledger.insert_entries(
            customer.id, linked, now=now, source="job:points-release", skip_conflicts=True
        )
        released = sum(e.points for e in written if e.bucket is Bucket.AVAILABLE)
        assert released == -sum(e.points for e in written if e.bucket is Bucket.PENDING), written
        balance = await session.customers.move_balance(customer, written, tier=customer.tier)
        if released:
            payload = {"points": released, "balanceAfter": balance_payload(balance)}
            await session.customers.add_events([(POINTS_PENDING_RELEASED, external_id, payload)], now)
    return len(written), released


async def _expire(uow: UnitOfWork, external_id: str, now: datetime) -> tuple[int, int]:
    async with uow.transaction() as session:
        customer = await session.customers.lock_customer(external_id, ["customer_external_id"])
        available = customer.points_available
        linked: list[LinkedEntry] = []
        for due in await session.jobs.due_expiries(customer.id, now):
            points = max(0, min(due.points, available))
            available -= points
            linked.append(
                LinkedEntry(_entry(EntryKind.EXPIRE, Bucket.AVAILABLE, -points, due, now), related_entry_id=due.id)
            )
        written = await session.ledger.insert_entries(
            customer.id, linked, now=now, source="job:points-expiry", skip_conflicts=True
        )
        expired = -sum(e.points for e in written)
        balance = await session.customers.move_balance(customer, written, tier=customer.tier)
        if expired:
            payload = {"points": expired, "balanceAfter": balance_payload(balance)}
            await session.customers.add_events([(POINTS_EXPIRED, external_id, payload)], now)
    return len(written), expired


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


def _entry(kind: EntryKind, bucket: Bucket, points: int, due: DueEntry, now: datetime) -> NewEntry:
    if kind is EntryKind.RELEASE:
        reason = "Pending points released"
    elif points:
        reason = f"{-points} of {due.points} points expired"
    else:
        reason = f"None of {due.points} points left to expire: all were spent"
    return NewEntry(
        kind,
        bucket,
        points,
        reason,
        rule_id=due.rule_id,
        rules_version=due.rules_version,
        available_at=now if bucket is Bucket.AVAILABLE else None,
    )
