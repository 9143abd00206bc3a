"""`points.expiring`: a notice `notice_days` before points expire, once per customer and
expiry date, written to the outbox in the job's transaction (one per batch of customers).

Per award, a notice covers the points of the customer's earn entries that expire on one
date (UTC), as they stand when the notice goes out. After inactivity, it covers the whole
available balance, on the date inactivity would end; a new activity moves that date, and
the notice for the new date is due `notice_days` before it. A notice already given for a
date (persistence.expiry_notices' unique key) is not given again, whoever runs the job.
"""

from __future__ import annotations

from datetime import date, datetime

from domain.expiry import ExpiryPolicy
from persistence.expiry_notices import Expiring
from persistence.unit_of_work import UnitOfWork

POINTS_EXPIRING = "points.expiring"


async def send_notices(uow: UnitOfWork, now: datetime, policy: ExpiryPolicy, range_size: int) -> tuple[int, int]:
    """Returns (notices written, points they announce)."""
    horizon = policy.notice_horizon(now)
    if horizon is None:
        return 0, 0
    async with uow.reading() as session:
        top = await session.jobs.last_customer_id()
    notices = points = 0
    for lo in range(0, top, range_size):
        hi = lo + range_size
        async with uow.transaction() as session:
            if policy.after_inactivity:
                inactive_since = policy.inactive_since(now)
                noticed_since = policy.noticed_inactive_since(now)
                assert noticed_since is not None
                found = await session.expiry_notices.inactive_customers(lo, hi, inactive_since, noticed_since)
                found = [
                    Expiring(e.customer_id, e.external_id, policy.inactivity_ends(e.expires_at), e.points)
                    for e in found
                ]
            else:
                found = await session.expiry_notices.expiring_entries(lo, hi, now, horizon)
            due = _by_date(policy, found)
            new = await session.expiry_notices.add_notices(
                [(customer_id, day, amount) for (customer_id, day), (_, _, amount) in due.items()], now
            )
            events = []
            for key in sorted(new):
                external_id, expires_at, amount = due[key]
                payload = {"points": amount, "expiresOn": key[1].isoformat(), "expiresAt": expires_at.isoformat()}
                events.append((POINTS_EXPIRING, external_id, payload))
                points += amount
            await session.outbox.add_batch_events(events, now)
        notices += len(new)
    return notices, points


def _by_date(policy: ExpiryPolicy, found: list[Expiring]) -> dict[tuple[int, date], tuple[str, datetime, int]]:
    """(customer id, date) → (external id, earliest expiry that day, points), points > 0."""
    due: dict[tuple[int, date], tuple[str, datetime, int]] = {}
    for e in found:
        if e.points <= 0:
            continue
        key = (e.customer_id, policy.notice_day(e.expires_at))
        _, at, amount = due.get(key, (e.external_id, e.expires_at, 0))
        due[key] = (e.external_id, min(at, e.expires_at), amount + e.points)
    return due
