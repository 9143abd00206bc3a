from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from api.errors import UserError
from api.orders.mutations import AppliedRule, OrderLineInputGql
from api.orders.types import FreeProduct
from api.rewards.types import Reward, RewardUnavailable
from api.scalars import Money
from app.carts import CartEvaluation as AppCartEvaluation
from app.redemptions import CartReward as AppCartReward
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
    country: str | None = strawberry.field(default=None, description="The shipping country (ISO 3166-1 alpha-2).")


@strawberry.input
class EvaluateEventInput:
    customer_external_id: str
    type: str = strawberry.field(description="An event type, e.g. review.published.")
    attributes: JSON | None = strawberry.field(default=None, description="A JSON object.")


@strawberry.type(description="Free shipping the cart gets, or how far it is from it.")
class FreeShipping:
    eligible: bool
    remaining: Money = strawberry.field(description="Subtotal still needed, in the program currency; 0 when eligible.")
    threshold: Money | None = strawberry.field(description="The subtotal that ships free, when one does.")
    rule_id: str | None = strawberry.field(description="The rule, or tier:<name>, that offers it.")


@strawberry.type
class Suggestion:
    sku: str
    rule_id: str = strawberry.field(description="The cross-sell rule, or 'learned' for a learned suggestion.")
    reason: str
    learned: bool = strawberry.field(
        default=False, description="Learned from order history (bought together), not from a rule."
    )


@strawberry.type
class Discount:
    rule_id: str
    amount: Money = strawberry.field(description="In the program currency.")
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


@strawberry.type(description="A reward of the catalogue, judged for the customer and this cart.")
class CartReward:
    reward: Reward = strawberry.field(
        description="The reward as the catalogue (`rewards`) shows it to the customer, without a cart:"
        " a client's cache keeps one Reward per id. This cart's verdict is beside it."
    )
    unavailable: list[RewardUnavailable] = strawberry.field(
        description="Why the customer cannot redeem it and use its code on this cart; empty when they can."
    )
    points_missing: int = strawberry.field(description="Points the customer still lacks for it; 0 when none.")

    @classmethod
    def of(cls, judged: AppCartReward, currency: str) -> CartReward:
        item = judged.item
        return cls(
            reward=Reward.of(item.reward, currency, item.stock_left, item.reasons),
            unavailable=[RewardUnavailable.of(r, currency) for r in judged.reasons],
            points_missing=sum(r.points_missing or 0 for r in judged.reasons),
        )


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
    free_products: list[FreeProduct] = strawberry.field(
        default_factory=list, description="Products the rules (free_item) and the cart's coupon codes give free."
    )
    redeemable_rewards: list[CartReward] = strawberry.field(
        default_factory=list,
        description="Rewards the customer can redeem now and use on this cart; empty for an anonymous cart.",
    )
    rewards_out_of_reach: list[CartReward] = strawberry.field(
        default_factory=list,
        description="Rewards just out of reach: blocked only by points still missing or by a subtotal below"
        " their minimum order, fewest points missing first; each says why. Empty for an anonymous cart.",
    )
    trace: list[RuleTrace] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: AppCartEvaluation, currency: str, *, trace: bool = True) -> CartEvaluation:
        """`currency`: the program's, which the evaluation's amounts are in. `trace=False`:
        for a query that does not select the trace, which is then left empty."""
        evaluation = result.evaluation
        shipping = evaluation.free_shipping

        def money(amount: Decimal) -> Money:
            return Money(amount=amount, currency=currency)

        return cls(
            rules_version=evaluation.rules_version,
            points_to_earn=evaluation.points,
            free_shipping=FreeShipping(
                eligible=shipping.eligible,
                remaining=Money.of(shipping.remaining, currency),
                threshold=Money.of(shipping.threshold, currency) if shipping.threshold is not None else None,
                rule_id=shipping.rule_id,
            )
            if shipping
            else None,
            suggestions=[
                Suggestion(sku=s.sku, rule_id=s.rule_id, reason=s.reason, learned=s.learned)
                for s in evaluation.suggestions
            ],
            applied_rules=_applied_rules(evaluation),
            discounts=[
                Discount(rule_id=d.rule_id, amount=money(d.amount), reason=d.reason) for d in evaluation.discounts
            ],
            free_products=[FreeProduct.of(p, currency) for p in evaluation.free_products],
            redeemable_rewards=[CartReward.of(r, currency) for r in result.rewards.redeemable],
            rewards_out_of_reach=[CartReward.of(r, currency) for r in result.rewards.out_of_reach],
            trace=_trace(evaluation) if trace else [],
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
