"""Customers: reading them (for change: locked, or remembered for a guarded write),
enrolling them, and moving their cached balance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.customers import Customer, EnrollmentInput
from domain.ledger import Balance, NewEntry
from persistence.repository import Repository
from persistence.session import Snapshot
from persistence.statements import Statement, insert
from persistence.tables import CUSTOMERS, to_json

BY_EXTERNAL_ID = Statement("SELECT * FROM customers WHERE external_id = :external_id")
_FOR_UPDATE = Statement("SELECT * FROM customers WHERE external_id = :external_id FOR UPDATE")
_INSERT = insert(
    CUSTOMERS,
    ["external_id", "email", "name", "birthday", "tags", "referral_code", "tier", "points_available",
     "points_pending", "lifetime_earned", "lifetime_spend", "order_count", "enrolled_at"],
    returning="*",
)
_MOVE = Statement(
    "UPDATE customers SET points_available = points_available + :available,"
    " points_pending = points_pending + :pending, lifetime_earned = lifetime_earned + :lifetime,"
    " tier = :tier, order_count = order_count + :orders, lifetime_spend = lifetime_spend + :spend,"
    " last_order_at = CASE WHEN :orders > 0 THEN :now ELSE last_order_at END WHERE id = :id"
)


def to_customer(row: Mapping[str, Any]) -> Customer:
    row = CUSTOMERS.decode(row)
    return Customer(
        external_id=row["external_id"],
        email=row["email"],
        name=row["name"],
        birthday=row["birthday"],
        tier=row["tier"],
        balance=Balance(row["points_available"], row["points_pending"], row["lifetime_earned"]),
        lifetime_spend=Decimal(row["lifetime_spend"]),
        order_count=row["order_count"],
        last_order_at=row["last_order_at"],
        enrolled_at=row["enrolled_at"],
        tags=tuple(row["tags"] or ()),
        referral_code=row["referral_code"],
    )


class Customers(Repository):
    async def get(self, external_id: str) -> Customer | None:
        return self._seen(await self.conn.fetch(BY_EXTERNAL_ID, {"external_id": external_id}))

    async def get_for_change(self, external_id: str) -> Customer | None:
        """Locked until the transaction ends when the session is: every change to one
        customer's balance goes through this lock, so concurrent writers queue instead of
        racing. Unlocked, the customer as read guards the session's write."""
        locking = self.session.locked and self.session.on_postgres
        statement = _FOR_UPDATE if locking else BY_EXTERNAL_ID
        return self._seen(await self.conn.fetch(statement, {"external_id": external_id}))

    async def by_external_ids(self, external_ids: Sequence[str]) -> dict[str, Customer]:
        if not external_ids:
            return {}
        params = {f"id_{i}": value for i, value in enumerate(external_ids)}
        marks = ", ".join(f":{name}" for name in params)
        rows = await self.conn.fetch(Statement(f"SELECT * FROM customers WHERE external_id IN ({marks})"), params)
        return {row["external_id"]: customer for row in rows if (customer := self._remember(row))}

    async def add(self, data: EnrollmentInput, tier: str | None, now: datetime) -> Customer:
        """Raises AlreadyStored when the external id is taken."""
        self.session.writing()
        [row] = await self.conn.fetch(
            _INSERT,
            {
                "external_id": data.external_id,
                "email": data.email,
                "name": data.name,
                "birthday": data.birthday,
                "tags": to_json(list(data.tags)),
                "referral_code": data.referral_code,
                "tier": tier,
                "points_available": 0,
                "points_pending": 0,
                "lifetime_earned": 0,
                "lifetime_spend": Decimal(0),
                "order_count": 0,
                "enrolled_at": now,
            },
        )
        return self._remember(row)

    def snapshot(self, customer: Customer) -> Snapshot:
        """The row this session read for the customer (a use case passes the customer
        back; the id and the guard's facts stay here)."""
        return self.session.seen.customers[customer.external_id]

    async def move_balance(
        self,
        customer: Customer,
        entries: Sequence[NewEntry],
        *,
        tier: str | None,
        now: datetime | None = None,
        spend: Decimal = Decimal(0),
        orders: int = 0,
    ) -> Balance:
        """Move the cached balance by exactly the sum of entries already written (and the
        customer's tier, spend and order count with it); returns the balance after."""
        before = customer.balance
        after = before.after(entries)
        delta = Balance(
            after.available - before.available,
            after.pending - before.pending,
            after.lifetime_earned - before.lifetime_earned,
        )
        if delta != Balance() or tier != customer.tier or orders or spend:
            self.session.writing()
            await self.conn.execute(
                _MOVE,
                {
                    "available": delta.available,
                    "pending": delta.pending,
                    "lifetime": delta.lifetime_earned,
                    "tier": tier,
                    "orders": orders,
                    "spend": spend,
                    "now": now,
                    "id": self.snapshot(customer).id,
                },
            )
        return after

    def _seen(self, rows: list[dict]) -> Customer | None:
        return self._remember(rows[0]) if rows else None

    def _remember(self, row: Mapping[str, Any]) -> Customer:
        customer = to_customer(row)
        self.session.seen.customers[customer.external_id] = Snapshot(
            id=row["id"],
            order_count=customer.order_count,
            lifetime_earned=customer.balance.lifetime_earned,
            lifetime_spend=customer.lifetime_spend,
            tier=customer.tier,
            points_available=customer.balance.available,
            points_pending=customer.balance.pending,
        )
        return customer
