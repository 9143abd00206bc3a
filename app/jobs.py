"""Scheduled jobs (`loyalty jobs run [NAME]`): each run does what is due at `now`, once.

Every job walks the customers with something due, one transaction per customer with the
customer locked, and relates each entry it appends to the earn entry it acts on. The
unique index on (kind, bucket, related_entry_id) then makes a second run, or two runs at
once, a no-op for whatever the first already did; the cached balance moves by exactly the
entries written.

Expiry: an earn entry past its `expires_at` expires what the customer still has of it,
taken as min(the points it put into the available bucket, the customer's available points
at the time of the run), oldest expiry first. Spending is not traced to the entries it
came from, so points spent are taken to be the ones that expire first. One expiry entry
is written per earn entry, even of 0 points when everything was spent: it records that
the entry was handled, so that points earned later are never taken by an old expiry.
Pending points that were never released are left to the release job (which `loyalty jobs
run` runs first) and expire on the run after their release.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.errors import DomainError, ErrorCode
from domain.ledger import Bucket, EntryKind, NewEntry
from persistence.jobs import DueEntry
from persistence.ledger import LinkedEntry
from persistence.unit_of_work import Session, UnitOfWork

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
    return await _each_customer(
        uow, "points-release", lambda s: s.jobs.customers_with_releases, _release, now, batch_size
    )


async def expire_points(uow: UnitOfWork, now: datetime, *, batch_size: int = BATCH_SIZE) -> JobReport:
    """Takes unspent points of earn entries past their `expires_at` (see the module's notes)."""
    return await _each_customer(
        uow, "points-expiry", lambda s: s.jobs.customers_with_expiries, _expire, now, batch_size
    )


JOBS: dict[str, Callable[[UnitOfWork, datetime], Awaitable[JobReport]]] = {
    # In this order: points released by the first may expire in the second.
    "points-release": release_pending_points,
    "points-expiry": expire_points,
}


async def run_jobs(uow: UnitOfWork, name: str | None, now: datetime) -> list[JobReport]:
    """One job by name, or every job in order."""
    if name is not None and name not in JOBS:
        raise DomainError(ErrorCode.NOT_FOUND, f"No job is called '{name}'; the jobs are {', '.join(JOBS)}.", ["name"])
    return [await job(uow, now) for job_name, job in JOBS.items() if name in (None, job_name)]


Pager = Callable[[datetime, int, int], Awaitable[list[tuple[int, str]]]]
PerCustomer = Callable[[Session, str, datetime], Awaitable[tuple[int, int]]]


async def _each_customer(
    uow: UnitOfWork, name: str, pager: Callable[[Session], Pager], one: PerCustomer, now: datetime, batch_size: int
) -> JobReport:
    now = now.astimezone(UTC)
    customers = entries = points = 0
    after_id = 0
    while True:
        async with uow.reading() as session:
            page = await pager(session)(now, after_id, batch_size)
        if not page:
            break
        for customer_id, external_id in page:
            async with uow.transaction() as session:
                written, moved = await one(session, external_id, now)
            customers += 1 if written else 0
            entries += written
            points += moved
            after_id = customer_id
    return JobReport(name, customers, entries, points)


async def _release(session: Session, external_id: str, now: datetime) -> tuple[int, int]:
    customer = await session.customers.get_for_change(external_id)
    assert customer is not None, "customers are never deleted"
    pending = customer.balance.pending
    linked: list[LinkedEntry] = []
    for due in await session.jobs.due_releases(customer, now):
        points = min(due.points, pending)
        if points <= 0:
            continue
        pending -= points
        linked += [
            LinkedEntry(_entry(EntryKind.RELEASE, Bucket.PENDING, -points, due, now), related_entry_id=due.id),
            LinkedEntry(_entry(EntryKind.RELEASE, Bucket.AVAILABLE, points, due, now), related_entry_id=due.id),
        ]
    written = await session.ledger.append(customer, linked, now=now, source="job:points-release", once=True)
    released = sum(e.points for e in written if e.bucket is Bucket.AVAILABLE)
    assert released == -sum(e.points for e in written if e.bucket is Bucket.PENDING), written
    await session.customers.move_balance(customer, written, tier=customer.tier)
    if released:
        await session.outbox.add([(POINTS_PENDING_RELEASED, external_id, {"points": released})], now)
    return len(written), released


async def _expire(session: Session, external_id: str, now: datetime) -> tuple[int, int]:
    customer = await session.customers.get_for_change(external_id)
    assert customer is not None, "customers are never deleted"
    available = customer.balance.available
    linked: list[LinkedEntry] = []
    for due in await session.jobs.due_expiries(customer, now):
        points = max(0, min(due.points, available))
        available -= points
        linked.append(
            LinkedEntry(_entry(EntryKind.EXPIRE, Bucket.AVAILABLE, -points, due, now), related_entry_id=due.id)
        )
    written = await session.ledger.append(customer, linked, now=now, source="job:points-expiry", once=True)
    expired = -sum(e.points for e in written)
    await session.customers.move_balance(customer, written, tier=customer.tier)
    if expired:
        await session.outbox.add([(POINTS_EXPIRED, external_id, {"points": expired})], now)
    return len(written), expired


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
