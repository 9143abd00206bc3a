"""Which tier a customer is in, and how far the next one is."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from domain.program import Tier


@dataclass(frozen=True)
class TierProgress:
    current: Tier | None
    next_tier: Tier | None
    remaining: int | Decimal
    """Points (or spend, for a spend-based tier) still needed for `next_tier`; 0 at the top."""


def _measure(tier: Tier, points: int, spend: Decimal) -> int | Decimal:
    return spend if tier.basis == "spend" else points


def tier_for(tiers: Sequence[Tier], points: int, spend: Decimal) -> Tier | None:
    reached = [t for t in tiers if _measure(t, points, spend) >= t.threshold]
    return max(reached, key=lambda t: t.threshold, default=None)


def progress(tiers: Sequence[Tier], points: int, spend: Decimal) -> TierProgress:
    current = tier_for(tiers, points, spend)
    above = sorted((t for t in tiers if _measure(t, points, spend) < t.threshold), key=lambda t: t.threshold)
    if not above:
        return TierProgress(current, None, 0)
    nxt = above[0]
    return TierProgress(current, nxt, nxt.threshold - _measure(nxt, points, spend))


# ---- tiers over time --------------------------------------------------------------------


@dataclass(frozen=True)
class TierReview:
    """When tiers may go down (they go up at once, whenever the threshold is crossed).

    `anniversary`: each year on the day the customer reached the tier; a tier reached on
    February 29 is reviewed on February 28 in the years without one. Otherwise on a
    calendar date (`month`, `day`; February 29 is refused by `rules check`). The verdict is
    taken `grace_days` after the review date, on what the customer qualified for by then.

    Days are the program's (`zone`, its `program.time_zone`): a review date starts at local
    midnight, and the day a tier was reached is its local date. Returned times are UTC."""

    anniversary: bool
    month: int = 1
    day: int = 1
    grace_days: int = 0
    drop_at_most_one_tier: bool = False
    zone: tzinfo = UTC

    def first_after(self, moment: datetime) -> datetime:
        """The first review date strictly after `moment` (local midnight)."""
        if self.anniversary:
            raise ValueError("an anniversary review counts from the day a tier was reached: use anniversary_after")
        year = moment.astimezone(self.zone).year
        for candidate_year in (year, year + 1):
            candidate = _midnight(date(candidate_year, self.month, self.day), self.zone)
            if candidate > moment:
                return candidate
        raise AssertionError("unreachable")

    def anniversary_after(self, reached: datetime, moment: datetime) -> datetime:
        """The first anniversary of the day `reached` (local date) strictly after `moment`."""
        reached_on = reached.astimezone(self.zone).date()
        years = max(1, moment.astimezone(self.zone).year - reached_on.year)
        while True:
            candidate = _midnight(_same_day(reached_on, reached_on.year + years), self.zone)
            if candidate > moment:
                return candidate
            years += 1

    def next_review(self, reached: datetime, last_review: datetime | None) -> datetime:
        after = max(reached, last_review) if last_review else reached
        return self.anniversary_after(reached, after) if self.anniversary else self.first_after(after)

    def latest_calendar_review(self, moment: datetime) -> datetime:
        """The latest calendar review date at or before `moment`."""
        year = moment.astimezone(self.zone).year
        for candidate_year in (year, year - 1):
            candidate = _midnight(date(candidate_year, self.month, self.day), self.zone)
            if candidate <= moment:
                return candidate
        raise AssertionError("unreachable")

    @property
    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)


def _same_day(day: date, year: int) -> date:
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def _midnight(day: date, zone: tzinfo) -> datetime:
    """The first moment of `day` in `zone`, in UTC (where clocks skip midnight itself,
    zoneinfo reads it with the offset before the change: the first moment after the gap)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def window_start(tier_period: str, rolling_days: int | None, end: datetime, zone: tzinfo = UTC) -> datetime | None:
    """Where the qualifying window that ends at `end` starts (None: lifetime); a calendar
    year is the program's (`zone`)."""
    if tier_period == "rolling" and rolling_days:
        return end - timedelta(days=rolling_days)
    if tier_period == "calendar_year":
        # The calendar year the window's last moment falls in.
        last = (end - timedelta(microseconds=1)).astimezone(zone)
        return _midnight(date(last.year, 1, 1), zone)
    return None


def higher(tiers: Sequence[Tier], current: str | None, reached: Tier | None) -> str | None:
    """The customer's tier after crossing thresholds: up at once, never down (that is the
    review's business)."""
    by_name = {t.name: t for t in tiers}
    now_in = by_name.get(current) if current else None
    if reached is None:
        return current
    if current is not None and now_in is None:
        # A tier removed from the rules: the new one applies.
        return reached.name
    return reached.name if now_in is None or reached.threshold > now_in.threshold else current


def reviewed(tiers: Sequence[Tier], current: str | None, qualified: Tier | None, drop_at_most_one: bool) -> str | None:
    """The tier a review leaves: the current one when still qualified (or higher), else the
    one qualified for, or only the next one down with `drop_at_most_one`."""
    ordered = sorted(tiers, key=lambda t: t.threshold)
    names = [t.name for t in ordered]
    if current not in names:
        return qualified.name if qualified else (names[0] if names else None)
    at = names.index(current)
    target = names.index(qualified.name) if qualified else 0
    if target >= at:
        return current
    return names[at - 1] if drop_at_most_one else names[target]
