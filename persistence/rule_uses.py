"""Uses of limited rules (per-customer limits and budgets): reading them, under lock,
before a recording, appending what the recording consumed, and giving them back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from domain.customers import Customer
from domain.program import UsageSnapshot
from persistence.repository import Repository
from persistence.statements import RowsInsert, Statement
from persistence.tables import RULE_USES

USE_COLUMNS = ("rule_id", "customer_id", "order_id", "event_id", "uses", "points", "used_at", "created_at")
_INSERT = RowsInsert(RULE_USES, USE_COLUMNS)
_ENSURE_BUDGET = Statement(
    "INSERT INTO rule_budgets (rule_id, points_awarded) VALUES (:rule_id, 0) ON CONFLICT (rule_id) DO NOTHING"
)
_BUDGET = Statement("SELECT points_awarded FROM rule_budgets WHERE rule_id = :rule_id")
_BUDGET_FOR_UPDATE = Statement("SELECT points_awarded FROM rule_budgets WHERE rule_id = :rule_id FOR UPDATE")
_SPEND_BUDGET = Statement("UPDATE rule_budgets SET points_awarded = points_awarded + :points WHERE rule_id = :rule_id")
_HELD_BY_ORDER = Statement(
    "SELECT rule_id, MIN(used_at) AS used_at, SUM(uses) AS uses, SUM(points) AS points"
    " FROM rule_uses WHERE order_id = :order_id GROUP BY rule_id HAVING SUM(uses) > 0"
)


class Limits(Repository):
    async def usage(
        self, customer: Customer, periods: Mapping[str, datetime | None], budget_rules: Sequence[str]
    ) -> UsageSnapshot:
        """This customer's uses of the given rules in their current periods, and the budgets'
        spending so far. Budget rows are locked until the transaction ends (in rule-id order,
        after the customer: the one lock order everywhere), so that two customers' orders
        cannot both spend the last of a budget. Only under the customer's lock."""
        self.session.needs_lock()
        customer_id = self.session.customers.snapshot(customer).id
        customer_uses: dict[str, int] = {}
        if periods:
            params = {f"rule_{i}": rule_id for i, rule_id in enumerate(sorted(periods))}
            marks = ", ".join(f":{name}" for name in params)
            rows = await self.conn.fetch(
                Statement(
                    "SELECT rule_id, used_at, uses FROM rule_uses"
                    f" WHERE customer_id = :customer_id AND rule_id IN ({marks})"
                ),
                {"customer_id": customer_id, **params},
            )
            for row in map(RULE_USES.decode, rows):
                start = periods[row["rule_id"]]
                if start is None or row["used_at"] >= start:
                    customer_uses[row["rule_id"]] = customer_uses.get(row["rule_id"], 0) + row["uses"]
        program_points: dict[str, int] = {}
        budget = _BUDGET_FOR_UPDATE if self.session.on_postgres else _BUDGET
        for rule_id in sorted(budget_rules):
            await self.conn.execute(_ENSURE_BUDGET, {"rule_id": rule_id})
            [row] = await self.conn.fetch(budget, {"rule_id": rule_id})
            program_points[rule_id] = int(row["points_awarded"])
        return UsageSnapshot(customer_uses=customer_uses, program_points=program_points)

    async def record(
        self,
        customer: Customer,
        uses: Mapping[str, int],
        budget_rules: Sequence[str],
        now: datetime,
        *,
        order: str | None = None,
        event: str | None = None,
    ) -> None:
        """One use per limited rule that applied (with the points it gave), for the order or
        event (by external id, written in this session) that consumed it, and the budgets'
        spending moved by the same points."""
        if not uses:
            return
        self.session.writing()
        seen = self.session.seen
        rows = [
            {
                "rule_id": rule_id,
                "customer_id": seen.customers[customer.external_id].id,
                "order_id": seen.orders[order] if order else None,
                "event_id": seen.events[event] if event else None,
                "uses": 1,
                "points": points,
                "used_at": now,
                "created_at": now,
            }
            for rule_id, points in sorted(uses.items())
        ]
        await self.conn.execute(_INSERT.statement(len(rows)), _INSERT.params(rows))
        for rule_id in sorted(set(budget_rules) & set(uses)):
            await self.conn.execute(_SPEND_BUDGET, {"points": uses[rule_id], "rule_id": rule_id})

    async def give_back(self, customer: Customer, order: str, now: datetime) -> list[str]:
        """Append negative uses, dated like the uses they cancel, for every use the order
        (read in this session) still holds; budgets get their points back. Returns the rule
        ids given back."""
        order_id = self.session.seen.orders[order]
        held = await self.conn.fetch(_HELD_BY_ORDER, {"order_id": order_id})
        if not held:
            return []
        self.session.writing()
        customer_id = self.session.customers.snapshot(customer).id
        rows = [
            {
                "rule_id": row["rule_id"],
                "customer_id": customer_id,
                "order_id": order_id,
                "event_id": None,
                "uses": -int(row["uses"]),
                "points": -int(row["points"]),
                "used_at": RULE_USES.decode({"used_at": row["used_at"]})["used_at"],
                "created_at": now,
            }
            for row in held
        ]
        await self.conn.execute(_INSERT.statement(len(rows)), _INSERT.params(rows))
        for row in sorted(held, key=lambda r: r["rule_id"]):
            await self.conn.execute(_SPEND_BUDGET, {"points": -int(row["points"]), "rule_id": row["rule_id"]})
        return [row["rule_id"] for row in held]
