from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import relay

from api.context import Info
from api.errors import UserError
from api.permissions import may_see_customer
from api.scalars import Money
from app import redemptions
from domain.auth import ApiKeyCaller, CustomerCaller
from domain.errors import DomainError
from domain.program import Reward as DomainReward
from domain.rewards import Reason
from domain.rewards import Redemption as DomainRedemption


@strawberry.type(description="Why a customer cannot redeem a reward now.")
class RewardUnavailable:
    code: str = strawberry.field(
        description="INSUFFICIENT_POINTS, TIER, MIN_ORDER, LIMIT_REACHED, OUT_OF_STOCK, NOT_YET_VALID"
        " or NO_LONGER_VALID."
    )
    message: str = strawberry.field(description="The reason, for the customer to read.")
    points_missing: int | None = strawberry.field(description="For INSUFFICIENT_POINTS: how many points are missing.")
    amount_missing: Money | None = strawberry.field(
        default=None, description="For MIN_ORDER: what the order's subtotal still needs, in the program currency."
    )

    @classmethod
    def of(cls, reason: Reason, currency: str) -> RewardUnavailable:
        """`currency`: the program's, which rewards' amounts are in."""
        missing = reason.amount_missing
        return cls(
            code=reason.block.value,
            message=reason.message,
            points_missing=reason.points_missing,
            amount_missing=None if missing is None else Money(amount=missing, currency=currency),
        )


# Kinds whose value is an amount of money; a percentage discount's is a percentage.
_AMOUNT_KINDS = ("fixed_discount", "cashback")
PERCENTAGE = "percentage_discount"


def _money(amount: Decimal | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount=amount, currency=currency)


@strawberry.type(description="What the reward catalogue offers in exchange for points.")
class Reward(relay.Node):
    reward_id: str = strawberry.field(description="The reward's id in the rule files: what redeemReward takes.")
    name: str
    kind: str = strawberry.field(
        description="fixed_discount, percentage_discount, free_shipping, free_product or cashback."
    )
    points_cost: int
    tiers: list[str] = strawberry.field(description="Only these tiers may redeem it; empty: every tier.")
    description: str = strawberry.field(default="", description="For the customer to read; may be empty.")
    value: Money | None = strawberry.field(
        default=None, description="The amount of a fixed discount or cashback, in the program currency."
    )
    percent: Decimal | None = strawberry.field(
        default=None, description="The percentage of a percentage discount (50: half off)."
    )
    sku: str | None = strawberry.field(default=None, description="The free product's sku.")
    min_order: Money | None = strawberry.field(
        default=None, description="The order subtotal its code needs, in the program currency."
    )
    valid_from: datetime | None = strawberry.field(default=None, description="Redeemable from then on; null: now.")
    valid_until: datetime | None = strawberry.field(default=None, description="Exclusive.")
    code_expires_in_days: int = strawberry.field(default=30, description="How long a redemption's code is usable.")
    stock_left: int | None = strawberry.field(
        default=None, description="Redemptions still on offer (in `rewards`); null: unlimited."
    )
    redeemable: bool | None = strawberry.field(
        default=None, description="For a customer: whether they can redeem it now. Null without a customer."
    )
    unavailable: list[RewardUnavailable] = strawberry.field(
        default_factory=list, description="For a customer: every reason they cannot redeem it now."
    )

    @classmethod
    def of(
        cls,
        reward: DomainReward,
        currency: str,
        stock_left: int | None = None,
        reasons: tuple[Reason, ...] | None = None,
    ) -> Reward:
        """`currency`: the program's, which rewards' amounts are in."""
        return cls(
            reward_id=reward.id,
            name=reward.name,
            kind=reward.kind,
            points_cost=reward.points_cost,
            tiers=list(reward.tiers),
            description=reward.description,
            value=_money(reward.value, currency) if reward.kind in _AMOUNT_KINDS else None,
            percent=reward.value if reward.kind == PERCENTAGE else None,
            sku=reward.sku,
            min_order=_money(reward.min_order, currency),
            valid_from=reward.valid_from,
            valid_until=reward.valid_until,
            code_expires_in_days=reward.expires_in_days,
            stock_left=stock_left,
            redeemable=None if reasons is None else not reasons,
            unavailable=[RewardUnavailable.of(r, currency) for r in reasons or ()],
        )

    @classmethod
    def resolve_id(cls, root: Reward, *, info: Info) -> str:
        return root.reward_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Reward | None]:
        wanted = list(node_ids)
        catalogue = await _visible_catalogue(info)
        return [catalogue.get(node_id) for node_id in wanted]


async def _visible_catalogue(info: Info) -> dict[str, Reward]:
    """The rules in force's rewards as `rewards` shows them to the caller (for a customer
    token, its customer's view): a node fetched again agrees with the catalogue in a cache."""
    caller = info.context.caller
    if not isinstance(caller, ApiKeyCaller | CustomerCaller):
        return {}
    program = info.context.services.program
    customer = caller.external_id if isinstance(caller, CustomerCaller) else None
    try:
        items = await redemptions.catalogue(info.context.services.uow, program, customer)
    except DomainError:
        return {}  # the token's customer is gone
    currency = program.exchange.program_currency
    return {i.reward.id: Reward.of(i.reward, currency, i.stock_left, i.reasons) for i in items}


@strawberry.type(description="One customer's redemption of a reward, and its coupon code.")
class Redemption(relay.Node):
    redemption_id: str = strawberry.field(
        description="The redemption's number, as reward events (redemptionId) and the ledger name it."
    )
    code: str = strawberry.field(description="The coupon code to send with the order (recordOrder couponCodes).")
    customer_external_id: str = strawberry.field(description="The customer who redeemed it.")
    reward_id: str = strawberry.field(description="The reward redeemed.")
    reward_name: str = strawberry.field(description="The reward's name when it was redeemed.")
    kind: str = strawberry.field(description="The reward's kind (see Reward.kind).")
    value: Money | None = strawberry.field(description="The amount of a fixed discount or cashback.")
    percent: Decimal | None = strawberry.field(description="The percentage of a percentage discount.")
    sku: str | None = strawberry.field(description="The free product's sku.")
    min_order: Money | None = strawberry.field(description="The order subtotal its code needs, when one.")
    points_spent: int = strawberry.field(description="Points the redemption took.")
    state: str = strawberry.field(description="active, used, cancelled or expired.")
    created_at: datetime = strawberry.field(description="When it was redeemed.")
    expires_at: datetime = strawberry.field(description="Unused by then, it gives its points back.")
    order_external_id: str | None = strawberry.field(description="The order that used its code.")

    @classmethod
    def of(cls, redemption: DomainRedemption) -> Redemption:
        reward = redemption.reward
        currency = redemption.currency
        return cls(
            redemption_id=str(redemption.id),
            code=redemption.code,
            customer_external_id=redemption.customer_external_id,
            reward_id=reward.reward_id,
            reward_name=redemption.reward_name,
            kind=reward.kind,
            value=_money(reward.value, currency) if reward.kind in _AMOUNT_KINDS else None,
            percent=reward.value if reward.kind == PERCENTAGE else None,
            sku=reward.sku,
            min_order=_money(reward.min_order, currency),
            points_spent=redemption.points_spent,
            state=redemption.state.value,
            created_at=redemption.created_at,
            expires_at=redemption.expires_at,
            order_external_id=redemption.order_external_id,
        )

    @classmethod
    def resolve_id(cls, root: Redemption, *, info: Info) -> str:
        return root.redemption_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Redemption | None]:
        return [await _visible_redemption(info, node_id) for node_id in node_ids]


async def _visible_redemption(info: Info, node_id: str) -> Redemption | None:
    """Null when it does not exist or the caller may not see its customer, alike."""
    if not node_id.isdigit() or len(node_id) > 18:
        return None
    found = await redemptions.find_redemption(info.context.services.uow, int(node_id))
    if found is None or not may_see_customer(info, found.customer_external_id):
        return None
    return Redemption.of(found)


@strawberry.input(description="Which reward to redeem, and for whom.")
class RedeemRewardInput:
    reward_id: str = strawberry.field(description="The reward's id in the rule files (Reward.rewardId).")
    customer_external_id: str | None = strawberry.field(
        default=None, description="Required with an API key; a customer token redeems for its own customer."
    )


@strawberry.type(description="The redemption made, or why not.")
class RedeemRewardPayload:
    redemption: Redemption | None = strawberry.field(default=None, description="Null when there are errors.")
    replayed: bool = strawberry.field(
        default=False, description="True when this idempotency key was already used: nothing new was written."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description="Why nothing was redeemed.")


@strawberry.type(description="The cancelled redemption, or why not.")
class CancelRedemptionPayload:
    redemption: Redemption | None = strawberry.field(default=None, description="Null when there are errors.")
    points_refunded: int = strawberry.field(default=0, description="Points given back to the customer.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Why nothing was cancelled.")
