"""Adjustments made with an idempotency key, and what a retry of one is answered with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.ledger import Balance
from persistence import sql
from persistence.entries import counts_as_earned
from persistence.statements import named


@dataclass(frozen=True)
class StoredAdjustment:
    idempotency_key: str
    customer_external_id: str
    request_hash: str
    balance_after: Balance
    """The customer's balance right after the adjustment, summed from the ledger."""


async def insert_adjustment(idempotency_key: str, customer_id: int, request_hash: str, now: datetime) -> None:
    """Call right after the adjustment's entry is appended, with the customer locked: the
    customer's newest entry is then that one. The unique index on the key refuses a retry,
    and the whole adjustment rolls back."""
    await sql.execute_named(
        named(
            "INSERT INTO adjustments (idempotency_key, customer_id, entry_id, request_hash, created_at)"
            " SELECT :idempotency_key, :customer_id, MAX(id), :request_hash, :now FROM ledger_entries WHERE"
            " customer_id = :customer_id"
        ),
        {
            "idempotency_key": idempotency_key,
            "customer_id": customer_id,
            "request_hash": request_hash,
            "now": now,
        },
    )


async def find_adjustment(idempotency_key: str) -> StoredAdjustment | None:
    rows = await sql.fetch_named(
        named(
            "SELECT a.customer_id, a.entry_id, a.request_hash, c.external_id FROM adjustments a"
            " JOIN customers c ON c.id = a.customer_id WHERE a.idempotency_key = :idempotency_key"
        ),
        {"idempotency_key": idempotency_key},
    )
    if not rows:
        return None
    row = rows[0]
    # Every entry of a customer is appended under the customer's lock, so the entries up to
    # this one are exactly those its balance was the sum of when it was written.
    [sums] = await sql.fetch_named(
        named(
            "SELECT COALESCE(SUM(CASE WHEN bucket = 'available' THEN points ELSE 0 END), 0) AS available,"
            " COALESCE(SUM(CASE WHEN bucket = 'pending' THEN points ELSE 0 END), 0) AS pending,"
            f" COALESCE(SUM(CASE WHEN {counts_as_earned()} THEN points ELSE 0 END), 0) AS lifetime"
            " FROM ledger_entries WHERE customer_id = :customer_id AND id <= :entry_id"
        ),
        {"customer_id": row["customer_id"], "entry_id": row["entry_id"]},
    )
    return StoredAdjustment(
        idempotency_key=idempotency_key,
        customer_external_id=row["external_id"],
        request_hash=row["request_hash"],
        balance_after=Balance(int(sums["available"]), int(sums["pending"]), int(sums["lifetime"])),
    )
