from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.permission import BasePermission

from api.context import Info
from api.errors import api_path
from api.rewards.types import Reward
from app import redemptions
from domain.auth import ApiKeyCaller, CustomerCaller, Scope
from domain.errors import DomainError


class MaySeeCatalogue(BasePermission):
    """Any API key sees the catalogue, and with customers:read any customer's view of it; a
    customer token sees its own customer's view."""

    message = "This needs an API key (customers:read to name a customer) or the customer's own token."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        caller = info.context.caller
        customer = kwargs.get("customer_external_id")
        if isinstance(caller, CustomerCaller):
            return customer in (None, caller.external_id)
        if isinstance(caller, ApiKeyCaller):
            return customer is None or caller.allows(Scope.CUSTOMERS_READ)
        return False


@strawberry.type
class RewardQueries:
    @strawberry.field(
        description="The reward catalogue of the rules in force. For a customer (their token, or an API key"
        " naming them) each reward says whether they can redeem it now, and if not, why.",
        permission_classes=[MaySeeCatalogue],
    )
    async def rewards(
        self,
        info: Info,
        customer_external_id: Annotated[
            str | None,
            strawberry.argument(description="With an API key: the customer to judge the rewards for."),
        ] = None,
        cart_subtotal: Annotated[
            Decimal | None, strawberry.argument(description="Checks rewards' minimum order against this subtotal.")
        ] = None,
    ) -> list[Reward]:
        caller = info.context.caller
        customer = caller.external_id if isinstance(caller, CustomerCaller) else customer_external_id
        program = info.context.services.program  # one version for the rewards and their currency
        try:
            services = info.context.services
            items = await redemptions.catalogue(services.uow, program, customer, cart_subtotal)
        except DomainError as error:
            field = api_path(error.field, {"order_subtotal": "cartSubtotal"})
            raise GraphQLError(error.message, extensions={"code": error.code.value, "field": field}) from None
        currency = program.exchange.program_currency
        return [Reward.of(item.reward, currency, item.stock_left, item.reasons) for item in items]
