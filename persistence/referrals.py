"""Referral links and their progress (see domain.referrals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.referrals import ReferralStatus
from persistence import sql
from persistence.rows import CustomerRow, customer_row
from persistence.statements import named


async def find_by_code(code: str) -> CustomerRow | None:
    rows = await sql.fetch_named(named("SELECT * FROM customers WHERE referral_code = :code"), {"code": code})
    return customer_row(rows[0]) if rows else None


async def link(referrer_id: int, friend_id: int, now: datetime) -> None:
    """Both rows in one go: the friend's `referred_by` (set once) and the referral's
    progress. The unique index on referrals.friend_id refuses a second referrer whatever
    the timing (IntegrityError)."""
    await sql.execute_named(
        named("UPDATE customers SET referred_by_id = :referrer_id WHERE id = :friend_id AND referred_by_id IS NULL"),
        {"referrer_id": referrer_id, "friend_id": friend_id},
    )
    await sql.execute_named(
        named(
            "INSERT INTO referrals (referrer_id, friend_id, status, linked_at) VALUES (:referrer_id, :friend_id,"
            " :linked, :now)"
        ),
        {"referrer_id": referrer_id, "friend_id": friend_id, "linked": ReferralStatus.LINKED, "now": now},
    )


@dataclass(frozen=True)
class DueReferral:
    id: int
    friend_external_id: str
    referrer_external_id: str


async def due_referrals(placed_before: datetime, after_id: int, limit: int) -> list[DueReferral]:
    """Linked referrals whose friend has an order placed before `placed_before` (its return
    window is over), by id."""
    rows = await sql.fetch_named(
        named(
            "SELECT r.id, f.external_id AS friend, c.external_id AS referrer FROM referrals r"
            " JOIN customers f ON f.id = r.friend_id JOIN customers c ON c.id = r.referrer_id"
            " WHERE r.status = :linked AND r.id > :after_id"
            " AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = r.friend_id AND o.placed_at <= :placed_before)"
            " ORDER BY r.id LIMIT :limit"
        ),
        {"linked": ReferralStatus.LINKED, "after_id": after_id, "placed_before": placed_before, "limit": limit},
    )
    return [DueReferral(row["id"], row["friend"], row["referrer"]) for row in rows]


async def status(referral_id: int) -> str:
    [row] = await sql.fetch_named(
        named("SELECT status FROM referrals WHERE id = :referral_id"), {"referral_id": referral_id}
    )
    return str(row["status"])


@dataclass(frozen=True)
class FirstOrder:
    id: int
    external_id: str
    placed_at: datetime
    program_subtotal: Decimal
    returned_in_full: bool


async def first_order(friend_id: int) -> FirstOrder | None:
    rows = await sql.fetch_named(
        named(
            "SELECT o.id, o.external_id, o.placed_at, o.subtotal, o.program_subtotal,"
            " (SELECT COALESCE(SUM(r.returned_amount), 0) FROM order_returns r WHERE r.order_id = o.id) AS returned"
            " FROM orders o WHERE o.customer_id = :friend_id ORDER BY o.placed_at, o.id LIMIT 1"
        ),
        {"friend_id": friend_id},
    )
    if not rows:
        return None
    row = rows[0]
    placed_at = row["placed_at"]
    if isinstance(placed_at, str):  # SQLite hands back text
        placed_at = datetime.fromisoformat(placed_at)
    subtotal = Decimal(str(row["subtotal"]))
    return FirstOrder(
        row["id"],
        row["external_id"],
        placed_at,
        Decimal(str(row["program_subtotal"] if row["program_subtotal"] is not None else subtotal)),
        Decimal(str(row["returned"])) >= subtotal,
    )


async def settle(
    referral_id: int, new_status: str, first_order_id: int, *, completed_at: datetime | None = None
) -> None:
    """A new status; `completed_at` when the job settles it (taking back keeps the date)."""
    await sql.execute_named(
        named(
            "UPDATE referrals SET status = :new_status, first_order_id = :first_order_id, completed_at ="
            " COALESCE(:completed_at, completed_at)"
            " WHERE id = :referral_id"
        ),
        {
            "new_status": new_status,
            "first_order_id": first_order_id,
            "completed_at": completed_at,
            "referral_id": referral_id,
        },
    )


@dataclass(frozen=True)
class CompletedReferral:
    id: int
    referrer_external_id: str


async def completed_by_order(order_id: int) -> CompletedReferral | None:
    """The completed referral this order (a friend's first) completed, if any."""
    rows = await sql.fetch_named(
        named(
            "SELECT r.id, c.external_id FROM referrals r JOIN customers c ON c.id = r.referrer_id"
            " WHERE r.first_order_id = :order_id AND r.status = :completed"
        ),
        {"order_id": order_id, "completed": ReferralStatus.COMPLETED},
    )
    return CompletedReferral(rows[0]["id"], rows[0]["external_id"]) if rows else None


async def event_id(external_id: str) -> int | None:
    rows = await sql.fetch_named(
        named("SELECT id FROM engagement_events WHERE external_id = :external_id"), {"external_id": external_id}
    )
    return int(rows[0]["id"]) if rows else None
