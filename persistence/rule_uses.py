"""Uses of limited rules (per-customer limits and budgets): reading them, under lock,
before a recording, and appending what the recording consumed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from domain.program import UsageSnapshot
from persistence import sql
from persistence.statements import RowsInsert
from persistence.tables import RULE_USES


async def usage_snapshot(
    customer_id: int | None,
    periods: Mapping[str, datetime | None],
    budget_rules: Sequence[str],
    *,
    for_update: bool = True,
) -> UsageSnapshot:
    """This customer's uses of the given rules in their current periods, and the budgets'
    spending so far. Budget rows are locked until the transaction ends (in rule-id order,
    after the customer: the one lock order everywhere), so that two customers' orders
    cannot both spend the last of a budget. `for_update=False` (dry runs) reads the same
    figures and writes and locks nothing; `customer_id=None` (an anonymous cart) has no uses."""
    customer_uses: dict[str, int] = {}
    if periods and customer_id is not None:
        # Every use of the customer's, kept for the given rules here: a large program has a
        # thousand limited rules, and a placeholder each cost more than the rest of a dry run
        # (measured: 1,130 rules, 2 ms per evaluateCart), while the rows are the same (a use
        # is only ever written for a limited rule, and periods are compared below).
        rows = await sql.fetch("SELECT rule_id, used_at, uses FROM rule_uses WHERE customer_id = $1", customer_id)
        for row in rows:
            if row["rule_id"] not in periods:
                continue  # a rule no longer limited, or gone from the program
            start = periods[row["rule_id"]]
            used_at = row["used_at"]
            if isinstance(used_at, str):  # SQLite hands back text
                used_at = datetime.fromisoformat(used_at)
            if start is None or used_at >= start:
                customer_uses[row["rule_id"]] = customer_uses.get(row["rule_id"], 0) + row["uses"]
    program_points: dict[str, int] = {}
    if budget_rules and not for_update:
        marks = ", ".join(f"${i + 1}" for i in range(len(budget_rules)))
        rows = await sql.fetch(
            f"SELECT rule_id, points_awarded FROM rule_budgets WHERE rule_id IN ({marks})", *sorted(budget_rules)
        )
        found = {row["rule_id"]: int(row["points_awarded"]) for row in rows}
        program_points = {rule_id: found.get(rule_id, 0) for rule_id in budget_rules}
    elif budget_rules:
        lock = " FOR UPDATE" if sql.on_postgres() else ""
        for rule_id in sorted(budget_rules):
            await sql.execute(
                "INSERT INTO rule_budgets (rule_id, points_awarded) VALUES ($1, 0) ON CONFLICT (rule_id) DO NOTHING",
                rule_id,
            )
            [row] = await sql.fetch(f"SELECT points_awarded FROM rule_budgets WHERE rule_id = $1{lock}", rule_id)
            program_points[rule_id] = int(row["points_awarded"])
    return UsageSnapshot(customer_uses=customer_uses, program_points=program_points)


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
) -> dict[str, Any]:
    """A rule use's values by column (negative uses give earlier ones back)."""
    return {
        "rule_id": rule_id,
        "uses": uses,
        "points": points,
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


async def record_uses(
    customer_id: int,
    uses: Mapping[str, int],
    budget_rules: Sequence[str],
    now: datetime,
    *,
    order_id: int | None = None,
    event_id: int | None = None,
) -> None:
    """One use per limited rule that applied (with the points it gave), for the order or
    event that consumed it, and the budgets' spending moved by the same points."""
    if uses:
        await insert_uses(
            [
                use_row(rule_id, customer_id, 1, points, used_at=now, now=now, order_id=order_id, event_id=event_id)
                for rule_id, points in sorted(uses.items())
            ]
        )
    for rule_id in sorted(set(budget_rules) & set(uses)):
        await sql.execute(
            "UPDATE rule_budgets SET points_awarded = points_awarded + $1 WHERE rule_id = $2",
            uses[rule_id],
            rule_id,
        )
