"""Adjustments made with an idempotency key, and what a retry of one is answered with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.customers import Customer
from domain.ledger import Balance
from persistence.repository import Repository
from persistence.statements import Statement


@dataclass(frozen=True)
class StoredAdjustment:
    idempotency_key: str
    customer_external_id: str
    request_hash: str
    balance_after: Balance
    """The customer's balance right after the adjustment, summed from the ledger."""


# Written right after the adjustment's entry, with the customer locked: the customer's
# newest entry is then that one. The unique index on the key refuses a retry, and the
# whole adjustment rolls back.
_INSERT = Statement(
    "INSERT INTO adjustments (idempotency_key, customer_id, entry_id, request_hash, created_at)"
    " SELECT :key, :customer_id, MAX(id), :request_hash, :now FROM ledger_entries WHERE customer_id = :customer_id"
)
_FIND = Statement(
    "SELECT a.customer_id, a.entry_id, a.request_hash, c.external_id FROM adjustments a"
    " JOIN customers c ON c.id = a.customer_id WHERE a.idempotency_key = :key"
)
# Every entry of a customer is appended under the customer's lock, so the entries up to
# the adjustment's are exactly those its balance was the sum of when it was written.
_BALANCE_UP_TO = Statement(
    "SELECT COALESCE(SUM(CASE WHEN bucket = 'available' THEN points ELSE 0 END), 0) AS available,"
    " COALESCE(SUM(CASE WHEN bucket = 'pending' THEN points ELSE 0 END), 0) AS pending,"
    " COALESCE(SUM(CASE WHEN kind IN ('earn', 'reverse') THEN points ELSE 0 END), 0) AS lifetime"
    " FROM ledger_entries WHERE customer_id = :customer_id AND id <= :entry_id"
)


class Adjustments(Repository):
    async def add(self, idempotency_key: str, customer: Customer, request_hash: str, now: datetime) -> None:
        """Right after the adjustment's entry is appended, in the same session."""
        self.session.writing()
        customer_id = self.session.customers.snapshot(customer).id
        params = {"key": idempotency_key, "customer_id": customer_id, "request_hash": request_hash, "now": now}
        await self.conn.execute(_INSERT, params)

    async def get(self, idempotency_key: str) -> StoredAdjustment | None:
        rows = await self.conn.fetch(_FIND, {"key": idempotency_key})
        if not rows:
            return None
        row = rows[0]
        [sums] = await self.conn.fetch(_BALANCE_UP_TO, {"customer_id": row["customer_id"], "entry_id": row["entry_id"]})
        return StoredAdjustment(
            idempotency_key=idempotency_key,
            customer_external_id=row["external_id"],
            request_hash=row["request_hash"],
            balance_after=Balance(int(sums["available"]), int(sums["pending"]), int(sums["lifetime"])),
        )
