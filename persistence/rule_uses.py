"""Uses of limited rules and campaigns (per-customer limits, program caps, budgets in
points and in money): reading them, under lock, before a recording, and appending what
the recording consumed. Keys are counter keys: a rule id, or campaign:<id>."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.program import UsageSnapshot
from persistence import sql
from persistence.rows import decimal_of
from persistence.statements import RowsInsert, Statement, named
from persistence.tables import RULE_USES


@dataclass(frozen=True)
class Use:
    """One counter's share of a recording: one use, with the points and discounts it gave,
    and, for a limit per an event attribute, the value it counts under."""

    key: str
    points: int = 0
    amount: Decimal = Decimal(0)
    scope: str | None = None
    program_wide: bool = False
    """A budget or program cap: its row in rule_budgets moves too."""


_USES = Statement("SELECT rule_id, used_at, uses, scope FROM rule_uses WHERE customer_id = :customer_id")
_BUDGETS = Statement("SELECT rule_id, points_awarded, amount_awarded, uses FROM rule_budgets")
_USES_AND_BUDGETS = Statement(
    "SELECT 'use' AS kind, rule_id, used_at, uses, scope, NULL AS points_awarded, NULL AS amount_awarded"
    " FROM rule_uses WHERE customer_id = :customer_id"
    " UNION ALL SELECT 'budget', rule_id, NULL, uses, NULL, points_awarded, amount_awarded FROM rule_budgets"
)


async def usage_snapshot(
    customer_id: int | None,
    periods: Mapping[str, datetime | None],
    program_keys: Sequence[str],
    *,
    scopes: Mapping[str, str] | None = None,
    for_update: bool = True,
) -> UsageSnapshot:
    """This customer's uses of the given counters in their current periods (for a counter
    in `scopes`, only those under that value), and the program-wide counters' figures so
    far. Their rows are locked until the transaction ends (in key order, after the
    customer: the one lock order everywhere), so that two customers' orders cannot both
    spend the last of a budget or a cap. `for_update=False` (dry runs) reads the same
    figures and writes and locks nothing; `customer_id=None` (an anonymous cart) has no uses."""
    scopes = scopes or {}
    reads_uses = bool(periods) and customer_id is not None
    reads_budgets = bool(program_keys) and not for_update
    # Every use of the customer's, kept for the given counters here: a large program has a
    # thousand limited rules, and a placeholder each cost more than the rest of a dry run
    # (measured: 1,130 rules, 2 ms per evaluateCart), while the rows are the same (a use is
    # only ever written for a limited counter, and periods are compared below). A dry run
    # asks for every program-wide counter (about 400 in a realistic 5,000-rule program),
    # while rows exist only for those some recording moved: the whole budgets table, kept
    # for the counters asked, costs less than a placeholder per key, and a counter without
    # a row is left out, which the evaluation reads as nothing used (as no row). When both
    # are read, one statement reads both (a round trip fewer per evaluateCart).
    use_rows: list[dict] = []
    budget_rows: list[dict] = []
    if reads_uses and reads_budgets:
        for row in await sql.fetch_named(_USES_AND_BUDGETS, {"customer_id": customer_id}):
            (use_rows if row["kind"] == "use" else budget_rows).append(row)
    elif reads_uses:
        use_rows = await sql.fetch_named(_USES, {"customer_id": customer_id})
    elif reads_budgets:
        budget_rows = await sql.fetch_named(_BUDGETS, {})
    if not for_update or not program_keys:
        return snapshot_of(UsageRows(use_rows, budget_rows), periods, program_keys, scopes=scopes)
    points: dict[str, int] = {}
    amounts: dict[str, Decimal] = {}
    uses: dict[str, int] = {}
    lock = " FOR UPDATE" if sql.on_postgres() else ""
    for key in sorted(program_keys):
        await sql.execute_named(
            named(
                "INSERT INTO rule_budgets (rule_id, points_awarded, amount_awarded, uses) VALUES (:key, 0, 0, 0)"
                " ON CONFLICT (rule_id) DO NOTHING"
            ),
            {"key": key},
        )
        [row] = await sql.fetch_named(
            named(f"SELECT points_awarded, amount_awarded, uses FROM rule_budgets WHERE rule_id = :key{lock}"),
            {"key": key},
        )
        points[key] = int(row["points_awarded"])
        amounts[key] = decimal_of(row["amount_awarded"])
        uses[key] = int(row["uses"])
    return UsageSnapshot(
        customer_uses=_customer_uses(use_rows, periods, scopes),
        program_points=points,
        program_amounts=amounts,
        program_uses=uses,
    )


@dataclass(frozen=True)
class UsageRows:
    """A customer's rule uses and the program-wide counters' rows, as read: what a dry run
    reads beside the customer, in the same statement (persistence.reads)."""

    uses: Sequence[Mapping[str, Any]]
    """rule_id, used_at, uses, scope"""
    budgets: Sequence[Mapping[str, Any]]
    """rule_id, points_awarded, amount_awarded, uses"""


_USE_COLUMNS = ("rule_id", "used_at", "uses", "scope")
_BUDGET_COLUMNS = ("rule_id", "points_awarded", "amount_awarded", "uses")
_DECODE = json.JSONDecoder(parse_float=Decimal)  # amounts stay exact


@dataclass(frozen=True)
class UsageJson:
    """The same rows as two JSON arrays of arrays (columns in the order above), as one
    statement reads them beside the customer (persistence.reads), decoded only when asked:
    most carts apply no limited rule, and then nothing needs them."""

    uses: str | list | None
    budgets: str | list | None

    def rows(self) -> UsageRows:
        return UsageRows(_decoded(self.uses, _USE_COLUMNS), _decoded(self.budgets, _BUDGET_COLUMNS))


def _decoded(value: str | list | None, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    items = _DECODE.decode(value) if isinstance(value, str) else value
    return [dict(zip(columns, item, strict=True)) for item in items or ()]


def snapshot_of(
    rows: UsageRows,
    periods: Mapping[str, datetime | None],
    program_keys: Sequence[str],
    *,
    scopes: Mapping[str, str] | None = None,
) -> UsageSnapshot:
    """The snapshot `usage_snapshot(..., for_update=False)` reads, from rows read already:
    the uses in the counters' current periods, and the program-wide counters asked that
    have a row (one without reads as nothing used)."""
    points: dict[str, int] = {}
    amounts: dict[str, Decimal] = {}
    uses: dict[str, int] = {}
    wanted = set(program_keys) if rows.budgets else ()
    for row in rows.budgets:
        key = row["rule_id"]
        if key in wanted:
            points[key] = int(row["points_awarded"])
            amounts[key] = decimal_of(row["amount_awarded"])
            uses[key] = int(row["uses"])
    return UsageSnapshot(
        customer_uses=_customer_uses(rows.uses, periods, scopes or {}),
        program_points=points,
        program_amounts=amounts,
        program_uses=uses,
    )


def _customer_uses(
    rows: Sequence[Mapping[str, Any]], periods: Mapping[str, datetime | None], scopes: Mapping[str, str]
) -> dict[str, int]:
    customer_uses: dict[str, int] = {}
    for row in rows:
        key = row["rule_id"]
        if key not in periods:
            continue  # a counter no longer limited, or gone from the program
        start = periods[key]
        used_at = row["used_at"]
        if isinstance(used_at, str):  # SQLite hands back text, and JSON gives text
            used_at = datetime.fromisoformat(used_at)
        if key in scopes and row["scope"] != scopes[key]:
            continue
        if start is None or used_at >= start:
            customer_uses[key] = customer_uses.get(key, 0) + row["uses"]
    return customer_uses


def use_row(
    rule_id: str,
    customer_id: int,
    uses: int,
    points: int,
    *,
    used_at: datetime,
    now: datetime,
    order_id: int | None = None,
    event_id: int | None = None,
    amount: Decimal = Decimal(0),
    scope: str | None = None,
) -> dict[str, Any]:
    """A rule use's values by column (negative uses give earlier ones back)."""
    return {
        "rule_id": rule_id,
        "uses": uses,
        "points": points,
        "amount": amount,
        "scope": scope,
        "used_at": used_at,
        "created_at": now,
        "customer_id": customer_id,
        "order_id": order_id,
        "event_id": event_id,
    }


_INSERT_USES = RowsInsert(RULE_USES)


async def insert_uses(rows: Sequence[dict[str, Any]]) -> None:
    """The one INSERT of rule uses: those taken (record_uses) and given back (a return's)."""
    await sql.execute_named(_INSERT_USES.statement(len(rows)), _INSERT_USES.params(rows))


async def move_program_counter(key: str, uses: int, points: int, amount: Decimal) -> None:
    """A budget or cap row moved by a recording (positive) or a return (negative)."""
    await sql.execute_named(
        named(
            "UPDATE rule_budgets SET points_awarded = points_awarded + :points, amount_awarded = amount_awarded"
            " + :amount,"
            " uses = uses + :uses WHERE rule_id = :key"
        ),
        {"points": points, "amount": amount, "uses": uses, "key": key},
    )


async def record_uses(
    customer_id: int,
    uses: Sequence[Use],
    now: datetime,
    *,
    order_id: int | None = None,
    event_id: int | None = None,
) -> None:
    """One row per counter use (with the points and discounts it gave), for the order or
    event that consumed it, and the program-wide counters moved by the same figures."""
    if not uses:
        return
    await insert_uses(
        [
            use_row(
                use.key,
                customer_id,
                1,
                use.points,
                used_at=now,
                now=now,
                order_id=order_id,
                event_id=event_id,
                amount=use.amount,
                scope=use.scope,
            )
            for use in uses
        ]
    )
    for use in sorted((u for u in uses if u.program_wide), key=lambda u: u.key):
        await move_program_counter(use.key, 1, use.points, use.amount)
