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

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.metrics import Period
from persistence import sql
from persistence.statements import named


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


@asynccontextmanager
async def _analytics_transaction() -> AsyncIterator[None]:
    async with sql.lean_transaction():
        if sql.on_postgres():
            # Each statement is one pass over a large table: JIT compiling it cost more
            # than it saved (a second of 1.7 s, measured on the members' statement).
            # Their hash aggregates hold a row per customer (per customer and month by
            # month): with the default 4 MB they spilled to disk in every worker.
            await sql.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")
        yield


async def _sorted_aggregates(on: bool) -> None:
    """PostgreSQL: sum each customer's rows as they come in customer order from the
    covering indexes (migration 0020), with no parallel workers. Measured at 1,000,000
    orders on the loaded 2-core machine: 0.96 s against 4.6 s for a hash of 100,000
    customers, which the planner prefers by its costs; parallel workers only added the
    cost of merging their partial groups (or each built the whole of one side again)."""
    if sql.on_postgres():
        if on:
            await sql.execute("SET LOCAL enable_hashagg = off; SET LOCAL max_parallel_workers_per_gather = 0")
        else:
            await sql.execute(
                "SET LOCAL enable_hashagg TO DEFAULT; SET LOCAL max_parallel_workers_per_gather TO DEFAULT"
            )


async def _fetch(statement: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return await sql.fetch_named(named(statement), params)


def _in(column: str) -> str:
    return f"{column} >= :start AND {column} < :end"


def _customers(dimension: Dimension, alias: str) -> str:
    """The join to each row's customer, when the group is the customer's (tier, cohort)."""
    if dimension in (Dimension.TIER, Dimension.COHORT):
        return f" JOIN customers c ON c.id = {alias}.customer_id"
    return ""


# Orders and engagement events as one stream of (customer, time, amount, is an order):
# one scan gives every per-customer figure that the rates are built from.
_ACTIVITY = (
    "SELECT customer_id, placed_at AS at, program_subtotal AS amount, 1 AS o FROM orders"
    " WHERE placed_at >= :orders_from AND placed_at < :end"
    " UNION ALL SELECT customer_id, occurred_at, CAST(NULL AS NUMERIC), 0 FROM engagement_events"
    " WHERE occurred_at >= :start AND occurred_at < :end"
)


async def groups(dimension: Dimension, span: Period) -> Groups:
    return (await groups_for([dimension], span))[dimension]


async def groups_for(dimensions: Sequence[Dimension], span: Period) -> dict[Dimension, Groups]:
    """Every per-group figure for `span` in each dimension (see domain.metrics for what
    they become). Overall, by tier and by cohort share one pass over each large table
    (each customer's figures, grouped three ways); by month is its own."""
    outs = {dimension: Groups() for dimension in dimensions}
    async with _analytics_transaction():
        per_customer: dict[Dimension, Groups] = {d: out for d, out in outs.items() if d is not Dimension.MONTH}
        if per_customer:
            await _per_customer(per_customer, span)
        if Dimension.MONTH in outs:
            await _monthly(outs[Dimension.MONTH], span)
        for dimension, out in outs.items():
            rows = await _fetch(
                f"SELECT {_key(dimension, 'f.created_at')} AS k, COUNT(*) AS respondents,"
                " SUM(CASE WHEN f.score >= 9 THEN 1 ELSE 0 END) AS promoters,"
                " SUM(CASE WHEN f.score <= 6 THEN 1 ELSE 0 END) AS detractors"
                f" FROM feedback f{_customers(dimension, 'f')} WHERE {_in('f.created_at')} GROUP BY 1",
                {"start": span.start, "end": span.end},
            )
            out.put(rows)
    return outs


def _customer_key(dimension: Dimension) -> str:
    """The group of a per-customer row `t` (which carries the customer's tier and enrolment)."""
    if dimension is Dimension.OVERALL:
        return f"'{OVERALL_KEY}'"
    if dimension is Dimension.TIER:
        return "COALESCE(t.tier, '')"
    return _month("t.enrolled_at")


def _each(dimensions: Sequence[Dimension], sums: str) -> str:
    """`sums` over the per-customer rows `t`, grouped by each dimension's key: one SELECT
    per dimension, UNION ALL'd, so that both databases compute `t` once for all of them."""
    parts = []
    for dimension in dimensions:
        grouped = "" if dimension is Dimension.OVERALL else " GROUP BY 2"
        parts.append(f"SELECT '{dimension.value}' AS d, {_customer_key(dimension)} AS k, {sums} FROM t{grouped}")
    return " UNION ALL ".join(parts)


_ACTIVITY_SUMS = (
    "SUM(n) AS orders, SUM(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS buyers, SUM(rev) AS revenue,"
    " SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS repeat_buyers, SUM(before) AS previous_buyers,"
    " SUM(CASE WHEN before = 1 AND n > 0 THEN 1 ELSE 0 END) AS retained,"
    " SUM(CASE WHEN n > 0 OR ev > 0 THEN 1 ELSE 0 END) AS active_members, SUM(ev) AS events,"
    " SUM(life) AS lifetime_revenue, SUM(CASE WHEN life_orders > 0 THEN 1 ELSE 0 END) AS lifetime_buyers"
)
# Each customer's orders and events (`:start`-`:end`: the period, `:before_start`: the start of the one before):
# each table summed by customer alone, in customer order, then joined to its customer
# (grouped by the group's key and customer at once, the planner expected a few hundred
# groups, not 100,000, and its hashes and sorts spilled to disk).
_CUSTOMER_ACTIVITY = (
    "SELECT c.id AS customer_id, c.tier, c.enrolled_at, COALESCE(o.n, 0) AS n, o.rev, COALESCE(o.before, 0) AS before,"
    " COALESCE(v.ev, 0) AS ev, o.life, COALESCE(o.life_orders, 0) AS life_orders FROM customers c"
    " LEFT JOIN (SELECT customer_id, SUM(CASE WHEN placed_at >= :start THEN 1 ELSE 0 END) AS n,"
    " SUM(CASE WHEN placed_at >= :start THEN program_subtotal END) AS rev,"
    " MAX(CASE WHEN placed_at >= :before_start AND placed_at < :start THEN 1 ELSE 0 END) AS before,"
    " SUM(program_subtotal) AS life, COUNT(*) AS life_orders"
    " FROM orders WHERE placed_at < :end GROUP BY customer_id) o ON o.customer_id = c.id"
    " LEFT JOIN (SELECT customer_id, COUNT(*) AS ev FROM engagement_events"
    " WHERE occurred_at >= :start AND occurred_at < :end GROUP BY customer_id) v ON v.customer_id = c.id"
    " WHERE o.customer_id IS NOT NULL OR v.customer_id IS NOT NULL"
)
_LEDGER_SUMS = (
    "SUM(outstanding) AS outstanding_points, SUM(earned) AS points_earned, SUM(redeemed) AS points_redeemed,"
    " SUM(redeemer) AS redeemers"
)
# Each customer's entries up to the period's end; earned and redeemed within it (from `:start`).
_CUSTOMER_LEDGER = (
    "SELECT c.tier, c.enrolled_at, l.* FROM customers c JOIN (SELECT e.customer_id, SUM(e.points) AS outstanding,"
    " SUM(CASE WHEN e.kind = 'earn' AND e.created_at >= :start THEN e.points END) AS earned,"
    " -SUM(CASE WHEN e.kind IN ('redeem', 'refund') AND e.created_at >= :start THEN e.points END) AS redeemed,"
    " MAX(CASE WHEN e.kind = 'redeem' THEN 1 ELSE 0 END) AS redeemer"
    " FROM ledger_entries e WHERE e.created_at < :end GROUP BY e.customer_id) l ON l.customer_id = c.id"
)


async def _per_customer(outs: dict[Dimension, Groups], span: Period) -> None:
    """Overall, by tier or by cohort: each customer's figures, then each group's sums."""
    dimensions = list(outs)

    def put(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            outs[Dimension(row["d"])].put([row])

    await _sorted_aggregates(True)
    put(
        await _fetch(
            f"WITH t AS ({_CUSTOMER_ACTIVITY}) {_each(dimensions, _ACTIVITY_SUMS)}",
            {"start": span.start, "end": span.end, "before_start": span.previous.start},
        )
    )
    rows = await _fetch(
        f"WITH t AS ({_CUSTOMER_LEDGER}) {_each(dimensions, _LEDGER_SUMS)}", {"start": span.start, "end": span.end}
    )
    put(rows)
    await _sorted_aggregates(False)
    redeemers = {(row["d"], row["k"]): int(row["redeemers"] or 0) for row in rows}
    for dimension, out in outs.items():
        out.put(
            await _fetch(
                f"SELECT {_key(dimension, 'c.enrolled_at')} AS k, COUNT(*) AS members,"
                " SUM(CASE WHEN c.enrolled_at >= :start THEN 1 ELSE 0 END) AS new_enrolments"
                " FROM customers c WHERE c.enrolled_at < :end GROUP BY 1",
                {"start": span.start, "end": span.end},
            )
        )
        for key, group in out.by_key.items():
            # A customer's entries come after their enrolment: whoever redeemed is a member.
            group.never_redeemed = group.members - redeemers.get((dimension.value, key), 0)


async def _monthly(out: Groups, span: Period) -> None:
    """By month: each month its own period (retention against the month before), and
    members and points outstanding as they stood at each month's end."""
    # One pass: each customer's orders and events per month (from the month before the
    # period, for its first month's retention), and the last earlier month they ordered in.
    # Each table is read in customer order (its index) and only sorted by month within
    # each customer: hashing 800,000 (customer, month) pairs cost several times more.
    await _sorted_aggregates(True)
    rows = await _fetch(
        "SELECT m, SUM(n) AS orders, SUM(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS buyers, SUM(rev) AS revenue,"
        " SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS repeat_buyers, COUNT(*) AS active_members, SUM(ev) AS events,"
        " SUM(CASE WHEN n > 0 AND ordered_before = m - 1 THEN 1 ELSE 0 END) AS retained"
        " FROM (SELECT a.*, MAX(CASE WHEN a.n > 0 THEN a.m END) OVER (PARTITION BY a.customer_id ORDER BY a.m"
        " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ordered_before"
        " FROM (SELECT COALESCE(o.customer_id, v.customer_id) AS customer_id, COALESCE(o.m, v.m) AS m,"
        " COALESCE(o.n, 0) AS n, o.rev, COALESCE(v.ev, 0) AS ev"
        f" FROM (SELECT customer_id, {_month_index('placed_at')} AS m, COUNT(*) AS n, SUM(program_subtotal) AS rev"
        " FROM orders WHERE placed_at >= :orders_from AND placed_at < :end GROUP BY 1, 2) o"
        f" FULL JOIN (SELECT customer_id, {_month_index('occurred_at')} AS m, COUNT(*) AS ev FROM engagement_events"
        " WHERE occurred_at >= :start AND occurred_at < :end GROUP BY 1, 2) v"
        " ON v.customer_id = o.customer_id AND v.m = o.m) a) b GROUP BY m",
        {"orders_from": _month_start(span.start, back=1), "start": span.start, "end": span.end},
    )
    await _sorted_aggregates(False)
    wanted = set(months(span))
    buyers = {int(row["m"]): int(row["buyers"]) for row in rows}
    for row in rows:
        label = month_label(int(row["m"]))
        if label in wanted:
            out.put([{**row, "k": label}])
    for label in wanted:
        # A month with no order nor event still has the month before's buyers to keep.
        first, _, second = label.partition("-")
        index = int(first) * 12 + int(second) - 1
        out.of(label).previous_buyers = buyers.get(index - 1, 0)
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


async def _monthly_stocks(out: Groups, span: Period) -> None:
    """Members and points outstanding at each month's end: what stood before the period,
    plus each month's change (one row per month from the database, summed here)."""
    labels = months(span)
    before = await _fetch(
        "SELECT (SELECT COUNT(*) FROM customers WHERE enrolled_at < :start) AS members,"
        " (SELECT SUM(points) FROM ledger_entries WHERE created_at < :start) AS points",
        {"start": span.start},
    )
    enrolled = await _fetch(
        f"SELECT {_month('c.enrolled_at')} AS k, COUNT(*) AS n FROM customers c"
        f" WHERE {_in('c.enrolled_at')} GROUP BY 1",
        {"start": span.start, "end": span.end},
    )
    moved = await _fetch(
        f"SELECT {_month('e.created_at')} AS k, SUM(e.points) AS n,"
        " SUM(CASE WHEN e.kind = 'earn' THEN e.points END) AS points_earned,"
        " -SUM(CASE WHEN e.kind IN ('redeem', 'refund') THEN e.points END) AS points_redeemed"
        f" FROM ledger_entries e WHERE {_in('e.created_at')} GROUP BY 1",
        {"start": span.start, "end": span.end},
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
    earned = f"e.kind = 'earn' AND e.rule_id IS NOT NULL AND {_in('e.created_at')}"
    async with _analytics_transaction():
        if sql.on_postgres():
            # The period's entries in order id order (their index), each (order, rule) once,
            # merged with the orders in id order: hashing the million orders, then sorting
            # by rule and customer, cost three to four times as much (1,000,000 orders).
            await sql.execute("SET LOCAL enable_hashjoin = off; SET LOCAL max_parallel_workers_per_gather = 0")
        rows = await _fetch(
            "SELECT r.rule_id, SUM(r.points) AS points, SUM(o.program_subtotal) AS revenue"
            " FROM (SELECT e.order_id, e.rule_id, SUM(e.points) AS points FROM ledger_entries e"
            f" WHERE {earned} GROUP BY 1, 2) r LEFT JOIN orders o ON o.id = r.order_id GROUP BY 1 ORDER BY 1",
            {"start": span.start, "end": span.end},
        )
        reached = await _fetch(
            "SELECT rule_id, COUNT(*) AS customers FROM (SELECT DISTINCT e.rule_id, e.customer_id"
            f" FROM ledger_entries e WHERE {earned}) d GROUP BY 1",
            {"start": span.start, "end": span.end},
        )
    customers = {row["rule_id"]: int(row["customers"]) for row in reached}
    return [
        RuleFigures(row["rule_id"], int(row["points"]), customers[row["rule_id"]], _plain(row["revenue"]))
        for row in rows
    ]


async def marketing_spend(span: Period) -> Decimal | None:
    """Spend recorded for periods that start within this one (None when none was)."""
    rows = await _fetch(
        "SELECT SUM(amount) AS n FROM marketing_spend WHERE period_start >= :start AND period_start < :end",
        {"start": span.start.date(), "end": span.end.date()},
    )
    return _plain(rows[0]["n"]) if rows and rows[0]["n"] is not None else None


async def new_enrolments(span: Period) -> int:
    rows = await _fetch(
        "SELECT COUNT(*) AS n FROM customers WHERE enrolled_at >= :start AND enrolled_at < :end",
        {"start": span.start, "end": span.end},
    )
    return int(rows[0]["n"])


async def record_marketing_spend(first: date, last: date, amount: Decimal, currency: str, now: datetime) -> None:
    await sql.execute_named(
        named(
            "INSERT INTO marketing_spend (period_start, period_end, amount, currency, created_at)"
            " VALUES (:first, :last, :amount, :currency, :now)"
        ),
        {"first": first, "last": last, "amount": amount, "currency": currency, "now": now},
    )
