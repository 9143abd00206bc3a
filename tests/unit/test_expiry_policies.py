"""Expiry policies: what the rule files choose, what `rules check` refuses (file:line),
and the dates each policy gives (domain.expiry)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.expiry import ExpiryPolicy
from tests.unit.rules.rules_testkit import errors_of, program_of

EARN = "rules:\n  - id: base\n    on: order\n    then: {points: {per_unit: 1, expires_in_days: 20}}\n"


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_the_inactivity_policy_and_its_notice_are_read_from_the_program():
    program = program_of(**{"p.yaml": "program:\n  points: {expires_after_inactive_days: 90, notice_days: 14}\n"})
    assert program.settings.expiry == ExpiryPolicy(inactive_days=90, notice_days=14)
    assert program.settings.expires_in_days is None


def test_per_award_is_the_policy_by_default():
    program = program_of(**{"p.yaml": "program:\n  points: {expires_in_days: 365, notice_days: 30}\n"})
    assert program.settings.expiry == ExpiryPolicy(notice_days=30)
    assert not program.settings.expiry.after_inactivity


def test_both_policies_at_once_are_an_error_at_the_line():
    both = "program:\n  points:\n    expires_in_days: 30\n    expires_after_inactive_days: 60\n"
    errors = errors_of(**{"p.yaml": both})
    assert len(errors) == 1 and errors[0].startswith("p.yaml:4:") and "choose one expiry policy" in errors[0]


def test_a_rule_of_its_own_expiry_under_the_inactivity_policy_is_an_error_at_the_rule():
    errors = errors_of(**{"p.yaml": "program:\n  points: {expires_after_inactive_days: 60}\n" + EARN})
    assert len(errors) == 1 and errors[0].startswith("p.yaml:6:") and "per-award policy" in errors[0]


def test_a_notice_not_before_the_expiry_is_an_error():
    errors = errors_of(**{"p.yaml": "program:\n  points:\n    expires_in_days: 30\n    notice_days: 30\n"})
    assert len(errors) == 1 and errors[0].startswith("p.yaml:4:") and "must be fewer than the 30 days" in errors[0]
    errors = errors_of(**{"p.yaml": "program:\n  points: {expires_in_days: 30, notice_days: 25}\n" + EARN})
    assert len(errors) == 1 and errors[0].startswith("p.yaml:6:") and "notice would come too late" in errors[0]


def test_a_notice_without_an_expiry_and_negative_days_are_errors():
    assert "no expiry is set" in errors_of(**{"p.yaml": "program:\n  points: {notice_days: 7}\n"})[0]
    errors = errors_of(**{"p.yaml": "program:\n  points: {expires_after_inactive_days: -5}\n"})
    assert errors == ["p.yaml:2:41: program.points.expires_after_inactive_days: -5 is less than the minimum of 1"]


def test_inactivity_ends_its_days_after_the_last_activity():
    policy = ExpiryPolicy(inactive_days=10, notice_days=3)
    assert policy.inactivity_ends(at(1)) == at(11)
    # At noon on the 11th, a customer last active at noon on the 1st has just expired...
    assert policy.inactive_since(at(11)) == at(1)
    # ...and one last active on the 4th at noon or before is due a notice (3 days before).
    assert policy.noticed_inactive_since(at(11)) == at(4)


def test_a_notice_is_due_its_days_before_the_expiry_and_names_the_day():
    policy = ExpiryPolicy(notice_days=7)
    assert policy.notice_horizon(at(1)) == at(1) + timedelta(days=7)
    assert policy.notice_day(at(8, 23)) == date(2026, 3, 8)
    assert ExpiryPolicy().notice_horizon(at(1)) is None


def test_a_notice_names_the_day_of_the_program_time_zone():
    """At 23:30 UTC on March 8, it is March 9 in Paris and still March 8 in New York; on
    March 29 Paris moves to summer time (+2), and 22:30 UTC is already the 30th there."""
    paris = program_of(**{"p.yaml": "program:\n  time_zone: Europe/Paris\n  points: {expires_in_days: 30}\n"})
    assert paris.settings.expiry.notice_day(at(8, 23).replace(minute=30)) == date(2026, 3, 9)
    assert paris.settings.expiry.notice_day(at(29, 22).replace(minute=30)) == date(2026, 3, 30)
    assert paris.settings.expiry.notice_day(at(28, 22).replace(minute=30)) == date(2026, 3, 28)
    new_york = ExpiryPolicy(notice_days=7, zone=ZoneInfo("America/New_York"))
    assert new_york.notice_day(at(8, 23).replace(minute=30)) == date(2026, 3, 8)
    assert new_york.notice_day(at(9, 3)) == date(2026, 3, 8)
    assert (paris.settings.expiry.zone_name, new_york.zone_name, ExpiryPolicy().zone_name) == (
        "Europe/Paris",
        "America/New_York",
        "UTC",
    )
