"""The program's counts and sums for a period, as SQL aggregates on either database.

Every statement here answers one row per group (the whole program, a tier, an enrolment
cohort or a month), never a row per customer or order: the figures are computed by the
database, and domain.metrics turns the few rows into rates. Statements are written once
with `$n` placeholders (persistence.sql rewrites them for SQLite); the only dialect
difference is how a timestamp's month is read (`_month`).

Times are compared as the drivers bind them: PostgreSQL compares timestamptz, SQLite the
ISO text Tortoise stores (always UTC, one format), whose order is the time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.metrics import Period
from persistence import sql


class Dimension(StrEnum):
    OVERALL = "overall"
    TIER = "tier"
    COHORT = "cohort"
    """The month the customer enrolled in (YYYY-MM)."""
    MONTH = "month"
    """The month the order, event, entry or answer happened in (YYYY-MM)."""


OVERALL_KEY = "all"


def _month(column: str) -> str:
    if sql.on_postgres():
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"
    return f"substr({column}, 1, 7)"


def _key(dimension: Dimension, happened_at: str) -> str:
    """The group a row falls in; `c` is its customer, `happened_at` its own time."""
    if dimension is Dimension.OVERALL:
        return f"'{OVERALL_KEY}'"
    if dimension is Dimension.TIER:
        return "COALESCE(c.tier, '')"
    if dimension is Dimension.COHORT:
        return _month("c.enrolled_at")
    return _month(happened_at)


@dataclass
class Group:
    """One group's raw figures; None where SQL's SUM saw no rows."""

    orders: int = 0
    buyers: int = 0
    revenue: Decimal | None = None
    repeat_buyers: int = 0
    previous_buyers: int = 0
    retained: int = 0
    respondents: int = 0
    promoters: int = 0
    detractors: int = 0
    points_earned: int | None = None
    points_redeemed: int | None = None
    members: int = 0
    new_enrolments: int = 0
    never_redeemed: int = 0
    active_members: int = 0
    events: int = 0
    outstanding_points: int | None = None
    lifetime_revenue: Decimal | None = None
    lifetime_buyers: int = 0


@dataclass
class Groups:
    by_key: dict[str, Group] = field(default_factory=dict)

    def of(self, key: str) -> Group:
        return self.by_key.setdefault(key, Group())

    def put(self, rows: Sequence[dict[str, Any]]) -> None:
        """Copies each row's columns named as Group's fields into the group of its `k`;
        money as Decimal, the rest as int (drivers answer SUMs as Decimal, float or text)."""
        for row in rows:
            group = self.of(row["k"])
            for name, value in row.items():
                if name in _FIELDS and value is not None:
                    setattr(group, name, _plain(value) if "Decimal" in _FIELDS[name] else int(value))


_FIELDS = {f.name: str(f.type) for f in fields(Group)}


def _plain(value: Any) -> Any:
    """SQLite answers SUMs of decimals as floats or text; money stays Decimal."""
    if isinstance(value, float):
        return Decimal(str(value))
    return value


async def _fetch(statement: str, *values: Any) -> list[dict[str, Any]]:
    return await sql.fetch(statement, *values)


def _in(column: str) -> str:
    return f"{column} >= $1 AND {column} < $2"


def _customers(dimension: Dimension, alias: str) -> str:
    """The join to each row's customer, when the group is the customer's (tier, cohort)."""
    if dimension in (Dimension.TIER, Dimension.COHORT):
        return f" JOIN customers c ON c.id = {alias}.customer_id"
    return ""


# Orders and engagement events as one stream of (customer, time, amount, is an order):
# one scan gives every per-customer figure that the rates are built from.
_ACTIVITY = (
    "SELECT customer_id, placed_at AS at, program_subtotal AS amount, 1 AS o FROM orders"
    " WHERE placed_at >= $1 AND placed_at < $3"
    " UNION ALL SELECT customer_id, occurred_at, CAST(NULL AS NUMERIC), 0 FROM engagement_events"
    " WHERE occurred_at >= $2 AND occurred_at < $3"
)


async def groups(dimension: Dimension, span: Period) -> Groups:
    """Every per-group figure for `span` (see domain.metrics for what they become), in
    four statements: activity (orders and events), ledger, members, feedback."""
    out = Groups()
    async with sql.lean_transaction():
        if sql.on_postgres():
            # Each statement is one pass over a large table: JIT compiling it cost more
            # than it saved (a second of 1.7 s, measured on the members' statement).
            await sql.execute("SET LOCAL jit = off")
        if dimension is Dimension.MONTH:
            await _monthly(out, span)
        else:
            await _per_customer(out, dimension, span)
        rows = await _fetch(
            f"SELECT {_key(dimension, 'f.created_at')} AS k, COUNT(*) AS respondents,"
            " SUM(CASE WHEN f.score >= 9 THEN 1 ELSE 0 END) AS promoters,"
            " SUM(CASE WHEN f.score <= 6 THEN 1 ELSE 0 END) AS detractors"
            f" FROM feedback f{_customers(dimension, 'f')} WHERE {_in('f.created_at')} GROUP BY 1",
            span.start,
            span.end,
        )
        out.put(rows)
    return out


async def _per_customer(out: Groups, dimension: Dimension, span: Period) -> None:
    """Overall, by tier or by cohort: each customer's figures, then each group's sums."""
    rows = await _fetch(
        "SELECT k, SUM(n) AS orders, SUM(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS buyers, SUM(rev) AS revenue,"
        " SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS repeat_buyers, SUM(before) AS previous_buyers,"
        " SUM(CASE WHEN before = 1 AND n > 0 THEN 1 ELSE 0 END) AS retained,"
        " SUM(CASE WHEN n > 0 OR ev > 0 THEN 1 ELSE 0 END) AS active_members, SUM(ev) AS events,"
        " SUM(life) AS lifetime_revenue, SUM(CASE WHEN life_orders > 0 THEN 1 ELSE 0 END) AS lifetime_buyers"
        f" FROM (SELECT {_key(dimension, 'x.at')} AS k, x.customer_id,"
        " SUM(CASE WHEN x.o = 1 AND x.at >= $2 THEN 1 ELSE 0 END) AS n,"
        " SUM(CASE WHEN x.o = 1 AND x.at >= $2 THEN x.amount END) AS rev,"
        " MAX(CASE WHEN x.o = 1 AND x.at >= $4 AND x.at < $2 THEN 1 ELSE 0 END) AS before,"
        " SUM(1 - x.o) AS ev, SUM(CASE WHEN x.o = 1 THEN x.amount END) AS life, SUM(x.o) AS life_orders"
        f" FROM ({_ACTIVITY}) x{_customers(dimension, 'x')} GROUP BY 1, 2) t GROUP BY k",
        _EPOCH,
        span.start,
        span.end,
        span.previous.start,
    )
    out.put(rows)
    rows = await _fetch(
        f"SELECT {_key(dimension, 'e.created_at')} AS k, SUM(e.points) AS outstanding_points,"
        " SUM(CASE WHEN e.kind = 'earn' AND e.created_at >= $1 THEN e.points END) AS points_earned,"
        " -SUM(CASE WHEN e.kind IN ('redeem', 'refund') AND e.created_at >= $1 THEN e.points END)"
        " AS points_redeemed,"
        " COUNT(DISTINCT CASE WHEN e.kind = 'redeem' THEN e.customer_id END) AS redeemers"
        f" FROM ledger_entries e{_customers(dimension, 'e')} WHERE e.created_at < $2 GROUP BY 1",
        span.start,
        span.end,
    )
    out.put(rows)
    redeemers = {row["k"]: int(row["redeemers"]) for row in rows}
    rows = await _fetch(
        f"SELECT {_key(dimension, 'c.enrolled_at')} AS k, COUNT(*) AS members,"
        " SUM(CASE WHEN c.enrolled_at >= $1 THEN 1 ELSE 0 END) AS new_enrolments"
        " FROM customers c WHERE c.enrolled_at < $2 GROUP BY 1",
        span.start,
        span.end,
    )
    out.put(rows)
    for key, group in out.by_key.items():
        # A customer's entries come after their enrolment: whoever redeemed is a member.
        group.never_redeemed = group.members - redeemers.get(key, 0)


# Before any order: the activity statement's lower bound when all of history counts.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def _monthly(out: Groups, span: Period) -> None:
    """By month: each month its own period (retention against the month before), and
    members and points outstanding as they stood at each month's end."""
    rows = await _fetch(
        "SELECT k, SUM(n) AS orders, SUM(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS buyers, SUM(rev) AS revenue,"
        " SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS repeat_buyers, COUNT(*) AS active_members, SUM(ev) AS events"
        f" FROM (SELECT {_month('x.at')} AS k, x.customer_id, SUM(x.o) AS n, SUM(x.amount) AS rev,"
        f" SUM(1 - x.o) AS ev FROM ({_ACTIVITY}) x GROUP BY 1, 2) t GROUP BY k",
        span.start,
        span.start,
        span.end,
    )
    out.put(rows)
    await _monthly_retention(out, span)
    await _monthly_stocks(out, span)


def _month_index(column: str) -> str:
    """year * 12 + month - 1: the month before is one less."""
    if sql.on_postgres():
        return (
            f"(EXTRACT(YEAR FROM {column} AT TIME ZONE 'UTC')::int * 12"
            f" + EXTRACT(MONTH FROM {column} AT TIME ZONE 'UTC')::int - 1)"
        )
    return f"(CAST(substr({column}, 1, 4) AS INTEGER) * 12 + CAST(substr({column}, 6, 2) AS INTEGER) - 1)"


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months(span: Period) -> list[str]:
    """The months the period touches, in order (YYYY-MM)."""
    first = span.start.year * 12 + span.start.month - 1
    last_moment = span.end - timedelta(microseconds=1)
    last = last_moment.year * 12 + last_moment.month - 1
    return [month_label(i) for i in range(first, last + 1)]


def _month_start(moment: datetime, back: int = 0) -> datetime:
    index = moment.year * 12 + moment.month - 1 - back
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


async def _monthly_retention(out: Groups, span: Period) -> None:
    """Each month's previous period is the month before it: distinct (customer, month)
    pairs, each joined to the same customer's pair a month later."""
    rows = await _fetch(
        f"WITH a AS (SELECT DISTINCT o.customer_id, {_month_index('o.placed_at')} AS m FROM orders o"
        f" WHERE {_in('o.placed_at')})"
        " SELECT p.m + 1 AS m, COUNT(*) AS previous_buyers, COUNT(n.customer_id) AS retained"
        " FROM a p LEFT JOIN a n ON n.customer_id = p.customer_id AND n.m = p.m + 1 GROUP BY p.m",
        _month_start(span.start, back=1),
        span.end,
    )
    wanted = set(months(span))
    out.put([{**row, "k": month_label(int(row["m"]))} for row in rows if month_label(int(row["m"])) in wanted])


async def _monthly_stocks(out: Groups, span: Period) -> None:
    """Members and points outstanding at each month's end: what stood before the period,
    plus each month's change (one row per month from the database, summed here)."""
    labels = months(span)
    before = await _fetch(
        "SELECT (SELECT COUNT(*) FROM customers WHERE enrolled_at < $1) AS members,"
        " (SELECT SUM(points) FROM ledger_entries WHERE created_at < $1) AS points",
        span.start,
    )
    enrolled = await _fetch(
        f"SELECT {_month('c.enrolled_at')} AS k, COUNT(*) AS n FROM customers c"
        f" WHERE {_in('c.enrolled_at')} GROUP BY 1",
        span.start,
        span.end,
    )
    moved = await _fetch(
        f"SELECT {_month('e.created_at')} AS k, SUM(e.points) AS n,"
        " SUM(CASE WHEN e.kind = 'earn' THEN e.points END) AS points_earned,"
        " -SUM(CASE WHEN e.kind IN ('redeem', 'refund') THEN e.points END) AS points_redeemed"
        f" FROM ledger_entries e WHERE {_in('e.created_at')} GROUP BY 1",
        span.start,
        span.end,
    )
    out.put(moved)
    new = {row["k"]: int(row["n"]) for row in enrolled}
    change = {row["k"]: int(row["n"]) for row in moved}
    members = int(before[0]["members"] or 0)
    points = before[0]["points"]
    for label in labels:
        group = out.of(label)
        members += new.get(label, 0)
        group.members, group.new_enrolments = members, new.get(label, 0)
        if points is not None or label in change:
            points = int(points or 0) + change.get(label, 0)
        group.outstanding_points = None if points is None else int(points)


@dataclass(frozen=True)
class RuleFigures:
    rule_id: str
    points: int
    customers: int
    revenue: Decimal | None


async def rule_figures(span: Period) -> list[RuleFigures]:
    """Per rule: points its earn entries gave in the period, to how many customers, and
    the revenue of the orders it fired on (each order once per rule)."""
    rows = await _fetch(
        "SELECT e.rule_id AS rule_id, SUM(e.points) AS points, COUNT(DISTINCT e.customer_id) AS customers"
        f" FROM ledger_entries e WHERE e.kind = 'earn' AND e.rule_id IS NOT NULL AND {_in('e.created_at')}"
        " GROUP BY 1 ORDER BY 1",
        span.start,
        span.end,
    )
    revenue = await _fetch(
        "SELECT r.rule_id AS rule_id, SUM(o.program_subtotal) AS revenue FROM (SELECT DISTINCT e.rule_id,"
        " e.order_id FROM ledger_entries e WHERE e.kind = 'earn' AND e.rule_id IS NOT NULL"
        f" AND e.order_id IS NOT NULL AND {_in('e.created_at')}) r JOIN orders o ON o.id = r.order_id GROUP BY 1",
        span.start,
        span.end,
    )
    by_rule = {row["rule_id"]: _plain(row["revenue"]) for row in revenue}
    return [
        RuleFigures(row["rule_id"], int(row["points"]), int(row["customers"]), by_rule.get(row["rule_id"]))
        for row in rows
    ]


async def marketing_spend(span: Period) -> Decimal | None:
    """Spend recorded for periods that start within this one (None when none was)."""
    rows = await _fetch(
        "SELECT SUM(amount) AS n FROM marketing_spend WHERE period_start >= $1 AND period_start < $2",
        span.start.date(),
        span.end.date(),
    )
    return _plain(rows[0]["n"]) if rows and rows[0]["n"] is not None else None


async def new_enrolments(span: Period) -> int:
    rows = await _fetch(
        "SELECT COUNT(*) AS n FROM customers WHERE enrolled_at >= $1 AND enrolled_at < $2", span.start, span.end
    )
    return int(rows[0]["n"])


async def record_marketing_spend(first: date, last: date, amount: Decimal, currency: str, now: datetime) -> None:
    await sql.execute(
        "INSERT INTO marketing_spend (period_start, period_end, amount, currency, created_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        first,
        last,
        amount,
        currency,
        now,
    )
