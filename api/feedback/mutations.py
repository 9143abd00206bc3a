from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.permissions import own_customer_or_scope
from app import feedback
from domain.auth import CustomerCaller, Scope
from domain.errors import DomainError, ErrorCode
from domain.feedback import FeedbackInput


@strawberry.input
class SubmitFeedbackInput:
    score: int = strawberry.field(description="How likely the customer is to recommend us, 0 to 10 (NPS).")
    comment: str | None = None
    order_external_id: str | None = strawberry.field(
        default=None, description="The order it is about: an order takes feedback once."
    )
    customer_external_id: str | None = strawberry.field(
        default=None, description="Required with an API key (on the customer's behalf); a customer token's own."
    )


@strawberry.type
class Feedback:
    score: int
    comment: str | None
    order_external_id: str | None
    created_at: datetime


@strawberry.type
class SubmitFeedbackPayload:
    feedback: Feedback | None = None
    points_earned: int = strawberry.field(default=0, description="What feedback.submitted rules awarded.")
    errors: list[UserError] = strawberry.field(default_factory=list)


MaySubmitFor = own_customer_or_scope(Scope.CUSTOMERS_WRITE, Scope.ORDERS_WRITE)


@strawberry.type
class FeedbackMutations:
    @strawberry.mutation(
        description="A recommendation score (0-10) with an optional comment, once per order when an order is"
        " named; feedback.submitted rules may reward it.",
        permission_classes=[MaySubmitFor],
    )
    async def submit_feedback(self, info: Info, input: SubmitFeedbackInput) -> SubmitFeedbackPayload:
        caller = info.context.caller
        customer = caller.external_id if isinstance(caller, CustomerCaller) else input.customer_external_id
        if customer is None:
            error = DomainError(
                ErrorCode.REQUIRED,
                "An API key submits on a customer's behalf: name the customer.",
                ["customer_external_id"],
            )
            return SubmitFeedbackPayload(errors=user_errors(error))
        data = FeedbackInput(customer, input.score, input.comment, input.order_external_id)
        try:
            result = await feedback.submit_feedback(info.context.services.uow, info.context.services.program, data)
        except DomainError as error:
            return SubmitFeedbackPayload(errors=user_errors(error))
        stored = result.feedback
        return SubmitFeedbackPayload(
            feedback=Feedback(
                score=stored.score,
                comment=stored.comment,
                order_external_id=stored.order_external_id,
                created_at=stored.created_at,
            ),
            points_earned=result.points_earned,
        )
