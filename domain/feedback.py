"""Feedback: a customer's recommendation score (0-10, as NPS asks it), optionally about one
order and with a comment, validated before anything is written."""

from __future__ import annotations

from dataclasses import dataclass

from domain import validation
from domain.errors import DomainError, ErrorCode

MAX_COMMENT = 2000
FEEDBACK_EVENT = "feedback.submitted"
"""The event rules that reward feedback listen to (`on: feedback.submitted`)."""


@dataclass(frozen=True)
class FeedbackInput:
    customer_external_id: str
    score: int
    comment: str | None = None
    order_external_id: str | None = None


def validate_feedback(data: FeedbackInput) -> FeedbackInput:
    problems = validation.Problems()
    check = problems.check
    check(validation.external_id, data.customer_external_id, ["customer_external_id"])
    if data.order_external_id is not None:
        check(validation.external_id, data.order_external_id, ["order_external_id"])
    if isinstance(data.score, bool) or not isinstance(data.score, int) or not 0 <= data.score <= 10:
        problems.errors.append(
            DomainError(ErrorCode.INVALID, f"A score is a whole number from 0 to 10; got {data.score}.", ["score"])
        )
    comment = check(validation.text, data.comment, ["comment"], MAX_COMMENT)
    problems.raise_any()
    return FeedbackInput(data.customer_external_id, data.score, comment, data.order_external_id)


def rule_attributes(feedback: FeedbackInput) -> dict[str, object]:
    """What `feedback.submitted` rules can test: `score`, `has_comment`, `for_order`."""
    return {
        "score": feedback.score,
        "has_comment": feedback.comment is not None,
        "for_order": feedback.order_external_id is not None,
    }
