"""When points expire, and when a customer is told before they do.

A program has one of two expiry policies (the rule files' `program.points`):

- per award (`expires_in_days`): each earn entry's points expire that many days after
  they become available, oldest expiry first (the entry's `expires_at`);
- after inactivity (`expires_after_inactive_days`): all of a customer's available points
  expire when that many days have passed since their last activity. Activity is an
  order, an engagement event or a redemption (what a customer does, not what happens to
  them: a release, an adjustment or a job is not activity). A customer never active is
  counted from their enrolment.

With `notice_days`, a `points.expiring` notice goes out that many days before a date on
which points will expire, naming that date as a day of the program's time zone (the
rule files' `program.time_zone`): a Paris shop's points that expire at 23:30 UTC expire
on the next day in Paris. Pending points never expire: they wait for their release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo


@dataclass(frozen=True)
class ExpiryPolicy:
    inactive_days: int | None = None
    """None: points expire per award (each earn entry's `expires_at`)."""
    notice_days: int | None = None
    """None: no `points.expiring` notices."""
    zone: tzinfo = UTC
    """The program's time zone: the days notices name are its days."""

    @property
    def after_inactivity(self) -> bool:
        return self.inactive_days is not None

    def inactivity_ends(self, last_activity: datetime) -> datetime:
        """When everything a customer holds expires, if they do nothing before then."""
        assert self.inactive_days is not None, "only under the inactivity policy"
        return last_activity + timedelta(days=self.inactive_days)

    def inactive_since(self, now: datetime) -> datetime:
        """Customers whose last activity is at or before this have expired by `now`."""
        assert self.inactive_days is not None, "only under the inactivity policy"
        return now - timedelta(days=self.inactive_days)

    def notice_horizon(self, now: datetime) -> datetime | None:
        """Points expiring at or before this are due a notice at `now` (None: no notices)."""
        return now + timedelta(days=self.notice_days) if self.notice_days is not None else None

    def noticed_inactive_since(self, now: datetime) -> datetime | None:
        """Under the inactivity policy: customers last active at or before this are due a
        notice at `now` (their inactivity ends within `notice_days`)."""
        horizon = self.notice_horizon(now)
        return None if horizon is None else self.inactive_since(horizon)

    def notice_day(self, expires_at: datetime) -> date:
        """The date a notice names, in the program's time zone: one notice per customer and date."""
        return expires_at.astimezone(self.zone).date()

    @property
    def zone_name(self) -> str:
        """The zone as the IANA database names it (PostgreSQL's `timezone()` takes it)."""
        return "UTC" if self.zone is UTC else str(self.zone)
