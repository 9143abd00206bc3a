"""Stored feedback. At most one per order: the unique index on order_id decides between
two submissions, however close together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.feedback import FeedbackInput
from persistence import sql
from persistence.statements import named


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
    rows = await sql.fetch_named(
        named("SELECT id FROM orders WHERE external_id = :order_external_id AND customer_id = :customer_id"),
        {"order_external_id": order_external_id, "customer_id": customer_id},
    )
    return int(rows[0]["id"]) if rows else None


async def insert(customer_id: int, order_id: int | None, feedback: FeedbackInput, now: datetime) -> int:
    """Raises IntegrityError when the order already has feedback."""
    [row] = await sql.fetch_named(
        named(
            "INSERT INTO feedback (customer_id, order_id, score, comment, created_at) VALUES (:customer_id,"
            " :order_id, :score, :comment, :now)"
            " RETURNING id"
        ),
        {
            "customer_id": customer_id,
            "order_id": order_id,
            "score": feedback.score,
            "comment": feedback.comment,
            "now": now,
        },
    )
    return int(row["id"])


async def link_event(feedback_id: int, event_id: int) -> None:
    await sql.execute_named(
        named("UPDATE feedback SET event_id = :event_id WHERE id = :feedback_id"),
        {"event_id": event_id, "feedback_id": feedback_id},
    )
