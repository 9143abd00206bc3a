from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from api.errors import UserError
from api.orders.mutations import AppliedRule, OrderLineInputGql
from domain.program import Evaluation


@strawberry.input
class EvaluateCartInput:
    currency: str
    lines: list[OrderLineInputGql]
    customer_external_id: str | None = strawberry.field(
        default=None,
        description="Omit for an anonymous cart (API key) or for the token's own customer.",
    )
    shipping_amount: Decimal | None = None
    coupon_codes: list[str] | None = None


@strawberry.input
class EvaluateEventInput:
    customer_external_id: str
    type: str = strawberry.field(description="An event type, e.g. review.published.")
    attributes: JSON | None = strawberry.field(default=None, description="A JSON object.")


@strawberry.type(description="Free shipping the cart gets, or how far it is from it.")
class FreeShipping:
    eligible: bool
    remaining: Decimal = strawberry.field(
        description="Subtotal still needed, in the program currency; 0 when eligible."
    )
    threshold: Decimal | None
    rule_id: str | None = strawberry.field(description="The rule, or tier:<name>, that offers it.")


@strawberry.type
class Suggestion:
    sku: str
    rule_id: str
    reason: str


@strawberry.type
class Discount:
    rule_id: str
    amount: Decimal = strawberry.field(description="In the program currency.")
    reason: str


@strawberry.type(description="One rule considered: applied, or why not.")
class RuleTrace:
    rule_id: str
    applied: bool
    reason: str


def _applied_rules(evaluation: Evaluation) -> list[AppliedRule]:
    """Every rule that applied, whatever its effect; points are 0 for non-point effects."""
    points: dict[str, int] = {}
    for award in evaluation.awards:
        points[award.rule_id] = points.get(award.rule_id, 0) + award.points
    return [
        AppliedRule(rule_id=t.rule_id, points=points.get(t.rule_id, 0), reason=t.reason)
        for t in evaluation.trace
        if t.applied
    ]


def _trace(evaluation: Evaluation) -> list[RuleTrace]:
    return [RuleTrace(rule_id=t.rule_id, applied=t.applied, reason=t.reason) for t in evaluation.trace]


@strawberry.type(description="A dry run of a cart: what recording it as an order would do now.")
class CartEvaluation:
    rules_version: str | None = None
    points_to_earn: int = 0
    free_shipping: FreeShipping | None = strawberry.field(
        default=None, description="Null when no rule or tier offers free shipping."
    )
    suggestions: list[Suggestion] = strawberry.field(default_factory=list)
    applied_rules: list[AppliedRule] = strawberry.field(default_factory=list)
    discounts: list[Discount] = strawberry.field(default_factory=list)
    trace: list[RuleTrace] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, evaluation: Evaluation) -> CartEvaluation:
        shipping = evaluation.free_shipping
        return cls(
            rules_version=evaluation.rules_version,
            points_to_earn=evaluation.points,
            free_shipping=FreeShipping(
                eligible=shipping.eligible,
                remaining=shipping.remaining,
                threshold=shipping.threshold,
                rule_id=shipping.rule_id,
            )
            if shipping
            else None,
            suggestions=[Suggestion(sku=s.sku, rule_id=s.rule_id, reason=s.reason) for s in evaluation.suggestions],
            applied_rules=_applied_rules(evaluation),
            discounts=[Discount(rule_id=d.rule_id, amount=d.amount, reason=d.reason) for d in evaluation.discounts],
            trace=_trace(evaluation),
        )


@strawberry.type(description="A dry run of an event: what recording it would award now.")
class EventEvaluation:
    rules_version: str | None = None
    points_to_earn: int = 0
    applied_rules: list[AppliedRule] = strawberry.field(default_factory=list)
    trace: list[RuleTrace] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, evaluation: Evaluation) -> EventEvaluation:
        return cls(
            rules_version=evaluation.rules_version,
            points_to_earn=evaluation.points,
            applied_rules=_applied_rules(evaluation),
            trace=_trace(evaluation),
        )
