"""The program's days are those of its time zone (`program.time_zone`): limit periods,
birthdays, tier review dates and calendar-year windows start at local midnight, also on
the days clocks change (2031: Paris on March 30 and October 26, Auckland on April 6 and
September 28, Santiago on September 7, where midnight itself is skipped)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.birthdays import birthdays_due
from domain.tiers import TierReview, window_start
from rules.program import period_start

PARIS, AUCKLAND, SANTIAGO = ZoneInfo("Europe/Paris"), ZoneInfo("Pacific/Auckland"), ZoneInfo("America/Santiago")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "zone", "period", "start"),
    [
        # Just before and after midnight in Paris (UTC+1 in winter).
        (utc(2031, 1, 14, 22, 59), PARIS, "day", utc(2031, 1, 13, 23, 0)),
        (utc(2031, 1, 14, 23, 0), PARIS, "day", utc(2031, 1, 14, 23, 0)),
        # The day clocks go forward is 23 hours long; it still starts at midnight (+1).
        (utc(2031, 3, 30, 12, 0), PARIS, "day", utc(2031, 3, 29, 23, 0)),
        (utc(2031, 3, 31, 0, 0), PARIS, "day", utc(2031, 3, 30, 22, 0)),
        # The day clocks go back is 25 hours long: midnight was still summer time (+2).
        (utc(2031, 10, 26, 23, 30), PARIS, "day", utc(2031, 10, 26, 23, 0)),
        (utc(2031, 10, 26, 22, 30), PARIS, "day", utc(2031, 10, 25, 22, 0)),
        # A week (Monday) and a month that straddle a change.
        (utc(2031, 3, 30, 12, 0), PARIS, "week", utc(2031, 3, 23, 23, 0)),
        (utc(2031, 4, 2, 8, 0), PARIS, "week", utc(2031, 3, 30, 22, 0)),
        (utc(2031, 4, 2, 8, 0), PARIS, "month", utc(2031, 3, 31, 22, 0)),
        (utc(2031, 1, 1, 0, 30), PARIS, "year", utc(2030, 12, 31, 23, 0)),
        # Auckland is a day ahead: 11:00 UTC on January 1 is already January 2 there (+13).
        (utc(2031, 1, 1, 11, 0), AUCKLAND, "day", utc(2031, 1, 1, 11, 0)),
        (utc(2031, 1, 1, 10, 59), AUCKLAND, "day", utc(2030, 12, 31, 11, 0)),
        (utc(2031, 1, 1, 10, 59), AUCKLAND, "year", utc(2030, 12, 31, 11, 0)),
        # April 6, clocks go back at 03:00 (+13 to +12): the day began at +13.
        (utc(2031, 4, 6, 10, 0), AUCKLAND, "day", utc(2031, 4, 5, 11, 0)),
        # September 28, clocks go forward at 02:00 (+12 to +13): the day began at +12.
        (utc(2031, 9, 28, 10, 0), AUCKLAND, "day", utc(2031, 9, 27, 12, 0)),
        (utc(2031, 9, 28, 10, 0), AUCKLAND, "month", utc(2031, 8, 31, 12, 0)),
        # Santiago skips 00:00-01:00 on September 7: the day starts at 01:00 (-3).
        (utc(2031, 9, 7, 12, 0), SANTIAGO, "day", utc(2031, 9, 7, 4, 0)),
        (utc(2031, 1, 14, 12, 0), UTC, "day", utc(2031, 1, 14)),
        (utc(2031, 1, 14, 12, 0), PARIS, "all_time", None),
    ],
)
def test_limit_periods_start_at_local_midnight(now, zone, period, start):
    assert period_start(period, now, zone) == start


def test_a_birthday_is_the_program_s_local_date():
    # 23:30 UTC on June 14 is June 15 in Paris, still June 14 in UTC.
    assert birthdays_due(utc(2031, 6, 14, 23, 30), PARIS) == (["06-15"], 2031)
    assert birthdays_due(utc(2031, 6, 14, 23, 30), UTC) == (["06-14"], 2031)
    # New Year in Auckland comes 13 hours before UTC's.
    assert birthdays_due(utc(2031, 12, 31, 11, 0), AUCKLAND) == (["01-01"], 2032)
    assert birthdays_due(utc(2031, 12, 31, 10, 59), AUCKLAND) == (["12-31"], 2031)


def test_february_29_birthdays_are_celebrated_on_the_local_february_28_in_other_years():
    assert birthdays_due(utc(2031, 2, 27, 23, 0), PARIS) == (["02-28", "02-29"], 2031)
    assert birthdays_due(utc(2031, 2, 27, 22, 59), PARIS) == (["02-27"], 2031)
    assert birthdays_due(utc(2032, 2, 28, 23, 0), PARIS) == (["02-29"], 2032)


def test_a_calendar_review_date_starts_at_local_midnight_across_a_clock_change():
    spring = TierReview(anniversary=False, month=3, day=30, zone=PARIS)
    assert spring.first_after(utc(2031, 1, 1)) == utc(2031, 3, 29, 23, 0)
    autumn = TierReview(anniversary=False, month=10, day=26, zone=PARIS)
    assert autumn.first_after(utc(2031, 1, 1)) == utc(2031, 10, 25, 22, 0)
    assert autumn.latest_calendar_review(utc(2031, 10, 25, 22, 0)) == utc(2031, 10, 25, 22, 0)
    assert autumn.latest_calendar_review(utc(2031, 10, 25, 21, 59)) == utc(2030, 10, 25, 22, 0)
    new_year = TierReview(anniversary=False, month=1, day=1, zone=AUCKLAND)
    assert new_year.first_after(utc(2031, 12, 31, 10, 59)) == utc(2031, 12, 31, 11, 0)
    assert new_year.first_after(utc(2031, 12, 31, 11, 0)) == utc(2032, 12, 31, 11, 0)


def test_an_anniversary_is_the_local_day_a_tier_was_reached():
    review = TierReview(anniversary=True, zone=PARIS)
    # Reached at 00:30 on June 15 in Paris (22:30 UTC on the 14th).
    assert review.next_review(utc(2031, 6, 14, 22, 30), None) == utc(2032, 6, 14, 22, 0)
    # Reached on February 29 (local), reviewed on the local February 28 in other years.
    assert review.next_review(utc(2032, 2, 28, 23, 30), None) == utc(2033, 2, 27, 23, 0)
    auckland = TierReview(anniversary=True, zone=AUCKLAND)
    # 13:00 UTC on September 27 is 02:00 on the 28th there, the day clocks go forward.
    assert auckland.next_review(utc(2031, 9, 27, 13, 0), None) == utc(2032, 9, 27, 11, 0)


def test_a_calendar_year_window_is_the_program_s_year():
    assert window_start("calendar_year", None, utc(2031, 12, 31, 11, 0), AUCKLAND) == utc(2030, 12, 31, 11, 0)
    assert window_start("calendar_year", None, utc(2031, 12, 31, 11, 1), AUCKLAND) == utc(2031, 12, 31, 11, 0)
    assert window_start("calendar_year", None, utc(2031, 7, 1), PARIS) == utc(2030, 12, 31, 23, 0)
