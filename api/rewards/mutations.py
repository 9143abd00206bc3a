from __future__ import annotations

from typing import Annotated

import strawberry

from api.context import Info
from api.errors import user_errors
from api.permissions import own_customer_or_scope
from api.rewards.types import CancelRedemptionPayload, RedeemRewardInput, RedeemRewardPayload, Redemption
from app import redemptions
from domain.auth import CustomerCaller, Scope
from domain.errors import DomainError, ErrorCode

# Spending points is writing for the customer: customers:write or orders:write (a store back
# end redeeming at checkout), or the customer's own token.
MaySpendFor = own_customer_or_scope(Scope.CUSTOMERS_WRITE, Scope.ORDERS_WRITE)


@strawberry.type
class RewardMutations:
    @strawberry.mutation(
        description="Spends a reward's points (available ones only, soonest to expire first) for a coupon"
        " code. With an idempotencyKey a retry returns the same redemption.",
        permission_classes=[MaySpendFor],
    )
    async def redeem_reward(
        self,
        info: Info,
        input: Annotated[RedeemRewardInput, strawberry.argument(description="The reward, and for whom.")],
        idempotency_key: Annotated[
            str | None,
            strawberry.argument(description="Makes the call safe to retry: the same key returns the same redemption."),
        ] = None,
    ) -> RedeemRewardPayload:
        caller = info.context.caller
        customer = caller.external_id if isinstance(caller, CustomerCaller) else input.customer_external_id
        try:
            if customer is None:
                raise DomainError(
                    ErrorCode.REQUIRED, "An API key must name the customer who redeems.", ["customer_external_id"]
                )
            services = info.context.services
            result = await redemptions.redeem_reward(
                services.uow, services.program, input.reward_id, customer, idempotency_key
            )
        except DomainError as error:
            return RedeemRewardPayload(errors=user_errors(error))
        return RedeemRewardPayload(redemption=Redemption.of(result.redemption), replayed=result.replayed)

    @strawberry.mutation(
        description="Cancels an unused redemption: its points come back (those of lots that expired meanwhile"
        " lapse), and its coupon code no longer works.",
        permission_classes=[MaySpendFor],
    )
    async def cancel_redemption(
        self, info: Info, code: Annotated[str, strawberry.argument(description="The redemption's coupon code.")]
    ) -> CancelRedemptionPayload:
        caller = info.context.caller
        own = caller.external_id if isinstance(caller, CustomerCaller) else None
        try:
            refund = await redemptions.cancel_redemption(info.context.services.uow, code, own)
        except DomainError as error:
            return CancelRedemptionPayload(errors=user_errors(error))
        return CancelRedemptionPayload(
            redemption=Redemption.of(refund.redemption), points_refunded=refund.points_refunded
        )
