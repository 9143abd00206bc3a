"""Stored feedback. At most one per order: the unique index on order_id decides between
two submissions, however close together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.feedback import FeedbackInput
from persistence import sql


@dataclass(frozen=True)
class StoredFeedback:
    id: int
    customer_external_id: str
    score: int
    comment: str | None
    order_external_id: str | None
    created_at: datetime


async def customers_order(order_external_id: str, customer_id: int) -> int | None:
    """The order's id when it is this customer's; None otherwise (another customer's order
    is as unknown to this one as an order that does not exist)."""
    rows = await sql.fetch(
        "SELECT id FROM orders WHERE external_id = $1 AND customer_id = $2", order_external_id, customer_id
    )
    return int(rows[0]["id"]) if rows else None


async def insert(customer_id: int, order_id: int | None, feedback: FeedbackInput, now: datetime) -> int:
    """Raises IntegrityError when the order already has feedback."""
    [row] = await sql.fetch(
        "INSERT INTO feedback (customer_id, order_id, score, comment, created_at) VALUES ($1, $2, $3, $4, $5)"
        " RETURNING id",
        customer_id,
        order_id,
        feedback.score,
        feedback.comment,
        now,
    )
    return int(row["id"])


async def link_event(feedback_id: int, event_id: int) -> None:
    await sql.execute("UPDATE feedback SET event_id = $1 WHERE id = $2", event_id, feedback_id)
