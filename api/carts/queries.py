from __future__ import annotations

from typing import Any

import strawberry
from strawberry.permission import BasePermission

from api.carts.types import CartEvaluation, EvaluateCartInput, EvaluateEventInput, EventEvaluation
from api.context import Info
from api.errors import user_errors
from app import carts
from domain.auth import ApiKeyCaller, CustomerCaller, Scope
from domain.errors import DomainError
from domain.orders import OrderLineInput


class MayEvaluateFor(BasePermission):
    """An API key for any customer (or none); a customer token only for its own customer.

    Checked on the input before the resolver runs, like every other permission."""

    message = "This needs an API key with customers:read or orders:write, or the customer's own token."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        caller = info.context.caller
        if isinstance(caller, ApiKeyCaller):
            return caller.allows(Scope.CUSTOMERS_READ) or caller.allows(Scope.ORDERS_WRITE)
        if isinstance(caller, CustomerCaller):
            return kwargs["input"].customer_external_id in (None, caller.external_id)
        return False


def _for_caller(info: Info, customer_external_id: str | None) -> str | None:
    """A customer token evaluates for its own customer when the input names none."""
    caller = info.context.caller
    if customer_external_id is None and isinstance(caller, CustomerCaller):
        return caller.external_id
    return customer_external_id


@strawberry.type
class CartQueries:
    @strawberry.field(
        description="A dry run with no side effects: points, free shipping, suggestions and the"
        " trace of every rule considered (applied, or why not).",
        permission_classes=[MayEvaluateFor],
    )
    async def evaluate_cart(self, info: Info, input: EvaluateCartInput) -> CartEvaluation:
        cart = carts.CartInput(
            customer_external_id=_for_caller(info, input.customer_external_id),
            currency=input.currency,
            lines=tuple(
                OrderLineInput(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price, category=line.category)
                for line in input.lines
            ),
            shipping_amount=input.shipping_amount,
            coupon_codes=tuple(input.coupon_codes or ()),
        )
        try:
            evaluation = await carts.evaluate_cart(info.context.services.uow, info.context.services.program, cart)
        except DomainError as error:
            return CartEvaluation(errors=user_errors(error))
        return CartEvaluation.of(evaluation)

    @strawberry.field(
        description="A dry run of an event (review.published, ...) for a customer: no side effects.",
        permission_classes=[MayEvaluateFor],
    )
    async def evaluate_event(self, info: Info, input: EvaluateEventInput) -> EventEvaluation:
        event = carts.EventInput(
            customer_external_id=input.customer_external_id,
            type=input.type,
            attributes={} if input.attributes is None else input.attributes,
        )
        try:
            evaluation = await carts.evaluate_event(info.context.services.uow, info.context.services.program, event)
        except DomainError as error:
            return EventEvaluation(errors=user_errors(error))
        return EventEvaluation.of(evaluation)
