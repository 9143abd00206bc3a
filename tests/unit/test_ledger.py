from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.errors import DomainError
from domain.ledger import Balance, Bucket, EntryKind, NewEntry, adjustment_entry, earn_entries
from domain.program import Evaluation, PointsAward, Tier
from domain.tiers import progress, tier_for

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_a_balance_is_the_sum_of_its_entries_by_bucket():
    entries = [
        NewEntry(EntryKind.EARN, Bucket.AVAILABLE, 100, "order"),
        NewEntry(EntryKind.EARN, Bucket.PENDING, 40, "order"),
        NewEntry(EntryKind.ADJUST, Bucket.AVAILABLE, -30, "debit"),
        NewEntry(EntryKind.RELEASE, Bucket.PENDING, -40, "release"),
        NewEntry(EntryKind.RELEASE, Bucket.AVAILABLE, 40, "release"),
    ]
    assert Balance.of(entries) == Balance(available=110, pending=0, lifetime_earned=140)


def test_adjustments_do_not_count_as_lifetime_earnings():
    assert Balance.of([NewEntry(EntryKind.ADJUST, Bucket.AVAILABLE, 50, "goodwill")]).lifetime_earned == 0


def test_a_balance_never_goes_below_zero():
    with pytest.raises(AssertionError):
        Balance(available=5).after([NewEntry(EntryKind.REDEEM, Bucket.AVAILABLE, -6, "too much")])


def test_a_debit_larger_than_the_balance_is_refused():
    with pytest.raises(DomainError) as error:
        adjustment_entry(Balance(available=5), -6, "x", NOW)
    assert error.value.code == "INSUFFICIENT_POINTS"


def test_a_zero_adjustment_is_refused():
    with pytest.raises(DomainError) as error:
        adjustment_entry(Balance(), 0, "x", NOW)
    assert error.value.code == "ZERO_POINTS"


def test_each_award_becomes_an_entry_naming_its_rule_and_version():
    evaluation = Evaluation(
        "v1",
        awards=(
            PointsAward("base", 100, "1 point per EUR"),
            PointsAward("gold", 50, "Gold x1.5", pending_days=14),
            PointsAward("nothing", 0, "rounded to zero"),
        ),
    )
    entries = earn_entries(evaluation, NOW)
    assert [(e.rule_id, e.points, e.bucket, e.rules_version) for e in entries] == [
        ("base", 100, Bucket.AVAILABLE, "v1"),
        ("gold", 50, Bucket.PENDING, "v1"),
    ]


def test_a_dry_run_checks_the_balance_its_earn_entries_would_make():
    evaluation = Evaluation(
        "v1",
        awards=(
            PointsAward("base", 100, "1 point per EUR"),
            PointsAward("gold", 50, "Gold x1.5", pending_days=14),
            PointsAward("nothing", 0, "rounded to zero"),
            PointsAward("clawback", -20, "negative awards make no entry"),
        ),
    )
    start = Balance(available=7, pending=3, lifetime_earned=40)
    assert start.after_earning(evaluation) == start.after(earn_entries(evaluation, NOW))
    assert start.after_earning(evaluation) == Balance(available=107, pending=53, lifetime_earned=190)
    huge = Evaluation("v1", awards=(PointsAward("huge", 3_000_000_150, "huge order", pending_days=1),))
    with pytest.raises(DomainError) as error:
        Balance().after_earning(huge)
    assert error.value.code == "POINTS_LIMIT"


TIERS = (Tier("Bronze", 0), Tier("Silver", 500), Tier("Gold", 2000))


def test_the_tier_is_the_highest_threshold_reached():
    assert tier_for(TIERS, 499, Decimal(0)).name == "Bronze"
    assert tier_for(TIERS, 500, Decimal(0)).name == "Silver"
    assert tier_for(TIERS, 10_000, Decimal(0)).name == "Gold"


def test_progress_names_the_next_tier_and_what_it_needs():
    p = progress(TIERS, 750, Decimal(0))
    assert (p.current.name, p.next_tier.name, p.remaining) == ("Silver", "Gold", 1250)
    top = progress(TIERS, 5000, Decimal(0))
    assert (top.next_tier, top.remaining) == (None, 0)


def test_a_spend_based_tier_measures_spend():
    tiers = (Tier("Member", 0), Tier("VIP", 1000, basis="spend"))
    assert tier_for(tiers, 10**6, Decimal("999.99")).name == "Member"
    assert progress(tiers, 0, Decimal("400")).remaining == Decimal("600")


def test_points_held_never_pass_what_a_graphql_int_holds():
    from domain.ledger import MAX_POINTS

    assert MAX_POINTS == 2**31 - 1
    full = Balance(available=MAX_POINTS - 10, pending=10, lifetime_earned=MAX_POINTS)
    with pytest.raises(DomainError) as error:
        full.after([NewEntry(EntryKind.ADJUST, Bucket.AVAILABLE, 1, "one more")])
    assert error.value.code == "POINTS_LIMIT"
    assert "2,147,483,647" in error.value.message
    with pytest.raises(DomainError):
        Balance().after([NewEntry(EntryKind.EARN, Bucket.PENDING, 3_000_000_150, "huge order")])
    # Releasing pending points moves them without adding any: still within the bound.
    released = full.after(
        [
            NewEntry(EntryKind.RELEASE, Bucket.PENDING, -10, "release"),
            NewEntry(EntryKind.RELEASE, Bucket.AVAILABLE, 10, "release"),
        ]
    )
    assert released.available == MAX_POINTS


def test_a_total_already_past_the_bound_may_still_go_down():
    past = Balance(available=3_000_000_000, lifetime_earned=3_000_000_000)
    assert past.after([NewEntry(EntryKind.REDEEM, Bucket.AVAILABLE, -5, "spend")]).available == 2_999_999_995
