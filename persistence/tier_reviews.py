"""What tier reviews read and write: customers due for one, their qualifying amounts over
windows, and tier history (a customer's `tier.changed` events in the outbox).

Reads and writes go a page of customers at a time: one statement reads the page, one the
amounts of all its customers; each write is guarded so that a second runner, or an order
that raised the tier meanwhile, makes it a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from persistence import outbox, sql
from persistence.entries import counts_as_earned
from persistence.jobs import joins_by_hash
from persistence.statements import Statement, named

TIER_CHANGED = "tier.changed"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_CANDIDATE = (
    "SELECT c.id, c.external_id, c.tier, c.enrolled_at, c.tier_reviewed_at,"
    " (SELECT MAX(ev.occurred_at) FROM reward_events ev WHERE ev.customer_external_id = c.external_id"
    f" AND ev.type = '{TIER_CHANGED}') AS changed_at FROM customers c"
)


@dataclass(frozen=True)
class ReviewCandidate:
    id: int
    external_id: str
    tier: str
    reached_at: datetime
    """When the customer reached their tier (their last tier change, else enrolment)."""
    reviewed_at: datetime | None


_CANDIDATES = Statement(
    _CANDIDATE + " WHERE c.tier IS NOT NULL AND c.tier <> :lowest"
    " AND (c.tier_reviewed_at IS NULL OR c.tier_reviewed_at < :reviewed_before) AND c.id > :after_id"
    " ORDER BY c.id LIMIT :limit"
)
_ONE_CANDIDATE = Statement(_CANDIDATE + " WHERE c.external_id = :external_id")


async def review_candidates(lowest: str, reviewed_before: datetime, after_id: int, limit: int) -> list[ReviewCandidate]:
    """Customers above the lowest tier whose last review (if any) is before `reviewed_before`."""
    rows = await sql.fetch_named(
        _CANDIDATES,
        {"lowest": lowest, "reviewed_before": reviewed_before, "after_id": after_id, "limit": limit},
    )
    return [_candidate(row) for row in rows]


async def review_candidate(external_id: str) -> ReviewCandidate | None:
    """One customer's review dates (for tierProgress)."""
    rows = await sql.fetch_named(_ONE_CANDIDATE, {"external_id": external_id})
    return _candidate(rows[0]) if rows else None


def _candidate(row: dict) -> ReviewCandidate:
    return ReviewCandidate(
        id=row["id"],
        external_id=row["external_id"],
        tier=row["tier"],
        reached_at=_moment(row["changed_at"] or row["enrolled_at"]),
        reviewed_at=_moment(row["tier_reviewed_at"]) if row["tier_reviewed_at"] else None,
    )


def _moment(value: datetime | str) -> datetime:
    # SQLite answers a computed column (MAX) as text; a plain column as a datetime.
    return sql.as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


async def qualifying_amounts(
    windows: Sequence[tuple[int, datetime | None, datetime]], basis: str
) -> dict[int, int | Decimal]:
    """Each customer's points earned (earn and reverse entries: not adjustments, not
    redemptions) or net spend, from the window's start (None: ever) until its end."""
    if not windows:
        return {}
    if sql.on_postgres():
        # Three arrays, not a placeholder per value: a page's 10,000 windows are one short
        # statement for PostgreSQL to parse and plan.
        windows_sql = "SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[])"
        values: list[object] = [
            [customer_id for customer_id, _, _ in windows],
            [start or _EPOCH for _, start, _ in windows],
            [end for _, _, end in windows],
        ]
    else:
        groups: list[str] = []
        values = []
        for customer_id, start, end in windows:
            n = len(values)
            groups.append(f"(${n + 1}, ${n + 2}, ${n + 3})")
            values += [customer_id, start or _EPOCH, end]
        windows_sql = f"VALUES {', '.join(groups)}"
    if basis == "spend":
        amount = (
            "COALESCE(SUM(o.program_subtotal - o.exchange_rate * COALESCE((SELECT SUM(r.returned_amount)"
            " FROM order_returns r WHERE r.order_id = o.id), 0)), 0)"
        )
        join = (
            "LEFT JOIN orders o ON o.customer_id = w.customer_id"
            " AND o.placed_at >= w.start_at AND o.placed_at < w.end_at"
        )
    else:
        amount = "COALESCE(SUM(e.points), 0)"
        join = (
            f"LEFT JOIN ledger_entries e ON e.customer_id = w.customer_id AND {counts_as_earned('e')}"
            " AND e.created_at >= w.start_at AND e.created_at < w.end_at"
        )
    rows = await sql.fetch(
        f"WITH w (customer_id, start_at, end_at) AS ({windows_sql})"
        f" SELECT w.customer_id, {amount} AS amount FROM w {join} GROUP BY w.customer_id",
        *values,
    )
    return {
        int(row["customer_id"]): (Decimal(str(row["amount"])) if basis == "spend" else int(row["amount"]))
        for row in rows
    }


@dataclass(frozen=True)
class Verdict:
    customer_id: int
    external_id: str
    before: str
    after: str
    review_date: datetime
    review_day: date
    """The review's date as a day of the program's time zone (the event names it)."""


async def apply_verdicts(verdicts: Sequence[Verdict], rules_version: str, now: datetime) -> tuple[int, int]:
    """Records a page of reviews and the new tiers, and a `tier.changed` event (reason
    `review`) for each tier lowered; returns (reviews applied, tiers lowered). A review is
    applied only once for its date, and not when the tier changed meanwhile (an order
    raised it: that stands), whoever runs the job.

    PostgreSQL: one statement over arrays (the updated rows make the events there);
    SQLite: one update, then the events by `outbox.add_batch_events`."""
    if not verdicts:
        return 0, 0
    if not sql.on_postgres():
        return await _apply_in_python(verdicts, rules_version, now)
    # The page's id range bounds the update: joined by hash (the events to their numbers
    # by nested loop compared every pair), it reads those customers by the key.
    await joins_by_hash()
    rows = await sql.fetch(
        f"""WITH v AS (
          SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
            AS v(customer_id, tier_before, tier_after, review_date, review_day)
        ), applied AS (
          UPDATE customers c SET tier = v.tier_after, tier_reviewed_at = v.review_date
          FROM v WHERE c.id = v.customer_id AND c.id >= $8 AND c.id <= $9 AND c.tier = v.tier_before
            AND (c.tier_reviewed_at IS NULL OR c.tier_reviewed_at < v.review_date)
          RETURNING c.external_id, v.tier_before, v.tier_after, v.review_day
        ), lowered AS (
          SELECT * FROM applied WHERE tier_after <> tier_before
        ), numbers AS (
          INSERT INTO customer_event_sequences (customer_external_id, last_sequence)
          SELECT external_id, 1 FROM lowered
          {outbox.COUNT_EVENTS}
          RETURNING customer_external_id, last_sequence
        ), events AS (
          INSERT INTO reward_events (type, customer_external_id, occurred_at, payload, customer_sequence, rules_version)
          SELECT '{TIER_CHANGED}', l.external_id, $6,
                 jsonb_build_object('from', l.tier_before, 'to', l.tier_after, 'reason', 'review',
                                    'reviewDate', l.review_day, 'rulesVersion', CAST($7 AS TEXT)),
                 n.last_sequence, $7
          FROM lowered l JOIN numbers n ON n.customer_external_id = l.external_id
        )
        SELECT COUNT(*) AS reviewed, COUNT(*) FILTER (WHERE tier_after <> tier_before) AS lowered FROM applied""",
        [v.customer_id for v in verdicts],
        [v.before for v in verdicts],
        [v.after for v in verdicts],
        [v.review_date for v in verdicts],
        [v.review_day.isoformat() for v in verdicts],
        now,
        rules_version,
        min(v.customer_id for v in verdicts),
        max(v.customer_id for v in verdicts),
    )
    if rows[0]["lowered"]:
        outbox.announce_written()
    return int(rows[0]["reviewed"]), int(rows[0]["lowered"])


async def _apply_in_python(verdicts: Sequence[Verdict], rules_version: str, now: datetime) -> tuple[int, int]:
    groups: list[str] = []
    values: list[object] = []
    for v in verdicts:
        n = len(values)
        groups.append(f"(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4})")
        values += [v.customer_id, v.before, v.after, v.review_date]
    rows = await sql.fetch(
        "UPDATE customers SET tier = r.tier_after, tier_reviewed_at = r.review_date"
        " FROM (SELECT column1 AS customer_id, column2 AS tier_before, column3 AS tier_after, column4 AS review_date"
        f" FROM (VALUES {', '.join(groups)}) AS v) AS r"
        " WHERE customers.id = r.customer_id AND customers.tier = r.tier_before"
        " AND (customers.tier_reviewed_at IS NULL OR customers.tier_reviewed_at < r.review_date) RETURNING id",
        *values,
    )
    applied = {int(row["id"]) for row in rows}
    events: list[outbox.Event] = [
        (
            TIER_CHANGED,
            v.external_id,
            {
                "from": v.before,
                "to": v.after,
                "reason": "review",
                "reviewDate": v.review_day.isoformat(),
                "rulesVersion": rules_version,
            },
        )
        for v in verdicts
        if v.customer_id in applied and v.after != v.before
    ]
    await outbox.add_batch_events(events, now)
    return len(applied), len(events)


@dataclass(frozen=True)
class TierChange:
    from_tier: str | None
    to_tier: str | None
    reason: str
    changed_at: datetime
    rules_version: str | None


async def tier_history(external_id: str) -> list[TierChange]:
    rows = await sql.fetch_named(
        named(
            "SELECT occurred_at, payload FROM reward_events WHERE customer_external_id = :external_id"
            f" AND type = '{TIER_CHANGED}' ORDER BY id"
        ),
        {"external_id": external_id},
    )
    changes = []
    for row in rows:
        payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
        changes.append(
            TierChange(
                from_tier=payload.get("from"),
                to_tier=payload.get("to"),
                reason=payload.get("reason", "threshold"),
                changed_at=_moment(row["occurred_at"]),
                rules_version=payload.get("rulesVersion"),
            )
        )
    return changes
