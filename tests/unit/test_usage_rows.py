"""A dry run reads its usage beside the customer, as JSON (persistence.reads): the snapshot
built from that JSON is the one the rows themselves give (persistence.rule_uses)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from persistence.rule_uses import UsageJson, UsageRows, snapshot_of

WEEK_START = datetime(2026, 11, 23, tzinfo=UTC)
PERIODS = {"weekly": WEEK_START, "ever": None, "scoped": None}


def test_the_json_read_gives_the_snapshot_the_rows_give():
    rows = UsageRows(
        uses=[
            {"rule_id": "weekly", "used_at": datetime(2026, 11, 24, 9, tzinfo=UTC), "uses": 1, "scope": None},
            {"rule_id": "weekly", "used_at": datetime(2026, 11, 20, 9, tzinfo=UTC), "uses": 1, "scope": None},
            {"rule_id": "ever", "used_at": datetime(2020, 1, 1, tzinfo=UTC), "uses": 2, "scope": None},
            {"rule_id": "scoped", "used_at": datetime(2026, 11, 24, tzinfo=UTC), "uses": 1, "scope": "a"},
            {"rule_id": "scoped", "used_at": datetime(2026, 11, 24, tzinfo=UTC), "uses": 1, "scope": "b"},
            {"rule_id": "gone", "used_at": datetime(2026, 11, 24, tzinfo=UTC), "uses": 5, "scope": None},
        ],
        budgets=[
            {"rule_id": "budget", "points_awarded": 40, "amount_awarded": Decimal("12.3400"), "uses": 3},
            {"rule_id": "not-asked", "points_awarded": 9, "amount_awarded": Decimal("1.0000"), "uses": 1},
        ],
    )
    # As PostgreSQL's json_agg writes them: timestamps with their offset, numerics with their scale.
    read = UsageJson(
        uses='[["weekly", "2026-11-24T09:00:00+00:00", 1, null], ["weekly", "2026-11-20T09:00:00+00:00", 1, null],'
        ' ["ever", "2020-01-01T01:00:00+01:00", 2, null], ["scoped", "2026-11-24T00:00:00+00:00", 1, "a"],'
        ' ["scoped", "2026-11-24T00:00:00+00:00", 1, "b"], ["gone", "2026-11-24T00:00:00+00:00", 5, null]]',
        budgets='[["budget", 40, 12.3400, 3], ["not-asked", 9, 1.0000, 1]]',
    )
    keys = ["budget", "no-row-yet"]

    expected = snapshot_of(rows, PERIODS, keys, scopes={"scoped": "a"})
    assert snapshot_of(read.rows(), PERIODS, keys, scopes={"scoped": "a"}) == expected
    assert expected.customer_uses == {"weekly": 1, "ever": 2, "scoped": 1}
    assert expected.program_points == {"budget": 40}
    amount = expected.program_amounts["budget"]
    assert amount == Decimal("12.34") and isinstance(amount, Decimal)


def test_no_rows_read_as_nothing_used():
    # PostgreSQL's json_agg of no rows is NULL; SQLite's json_group_array is '[]'.
    for empty in (None, "[]"):
        snapshot = snapshot_of(UsageJson(empty, empty).rows(), PERIODS, ["budget"])
        assert not snapshot.customer_uses and not snapshot.program_points and not snapshot.program_uses
