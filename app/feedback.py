"""Submitting feedback: store the score, and let the event rules reward it
(`feedback.submitted`), in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from app.clock import utcnow
from app.engagement import award_event
from domain.errors import DomainError, ErrorCode
from domain.events import EventInput, validate_event
from domain.feedback import FEEDBACK_EVENT, FeedbackInput, rule_attributes, validate_feedback
from persistence.connections import IntegrityError
from persistence.feedback import StoredFeedback
from persistence.unit_of_work import UnitOfWork
from rules import Program


@dataclass(frozen=True)
class FeedbackResult:
    feedback: StoredFeedback
    points_earned: int


async def submit_feedback(uow: UnitOfWork, program: Program, data: FeedbackInput) -> FeedbackResult:
    feedback = validate_feedback(data)
    now = utcnow()
    try:
        async with uow.transaction() as session:
            customer = await session.customers.lock_customer(feedback.customer_external_id, ["customer_external_id"])
            order_id = None
            if feedback.order_external_id is not None:
                order_id = await session.feedback.customers_order(feedback.order_external_id, customer.id)
                if order_id is None:
                    raise DomainError(
                        ErrorCode.ORDER_NOT_FOUND,
                        f"Customer '{customer.external_id}' has no order '{feedback.order_external_id}'.",
                        ["order_external_id"],
                    )
            feedback_id = await session.feedback.insert(customer.id, order_id, feedback, now)
            event = validate_event(
                EventInput(
                    external_id=f"feedback:{feedback_id}",
                    customer_external_id=customer.external_id,
                    type=FEEDBACK_EVENT,
                    occurred_at=now,
                    attributes=rule_attributes(feedback),
                )
            )
            awarded = await award_event(session, program, customer, event, now)
            await session.feedback.link_event(feedback_id, awarded.event_id)
    except IntegrityError:
        # Only the feedback row can clash: this order's feedback is already in.
        raise DomainError(
            ErrorCode.FEEDBACK_ALREADY_SUBMITTED,
            f"Feedback on order '{feedback.order_external_id}' was already submitted; an order takes it once.",
            ["order_external_id"],
        ) from None
    stored = StoredFeedback(
        feedback_id, customer.external_id, feedback.score, feedback.comment, feedback.order_external_id, now
    )
    return FeedbackResult(stored, awarded.points)
