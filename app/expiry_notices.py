"""`points.expiring`: a notice `notice_days` before points expire, once per customer and
expiry date, written to the outbox in the job's transaction (one per batch of customers).

Per award, a notice covers the points of the customer's earn entries that expire on one
date (a day of the program's time zone), as they stand when the notice goes out. After inactivity, it covers the whole
available balance, on the date inactivity would end; a new activity moves that date, and
the notice for the new date is due `notice_days` before it. A notice already given for a
date (persistence.expiry_notices' unique key) is not given again, whoever runs the job.
"""

from __future__ import annotations

from datetime import datetime

from domain.expiry import ExpiryPolicy
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
                noticed_since = policy.noticed_inactive_since(now)
                assert noticed_since is not None
                done = await session.expiry_notices.notify_inactive(
                    lo, hi, now, policy.inactive_since(now), noticed_since, policy, POINTS_EXPIRING
                )
            else:
                done = await session.expiry_notices.notify_expiring(lo, hi, now, horizon, policy, POINTS_EXPIRING)
        notices += done.notices
        points += done.points
    return notices, points
