from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.orders.types import FreeProduct, Order
from api.permissions import any_scope
from api.scalars import Money
from app import orders, returns
from domain.auth import Scope
from domain.errors import DomainError
from domain.orders import OrderInput, OrderLineInput
from domain.program import PointsAward
from domain.returns import ReturnInput, ReturnLineInput


@strawberry.input(name="OrderLineInput")
class OrderLineInputGql:
    sku: str
    quantity: int
    unit_price: Decimal
    category: str | None = None
    tags: list[str] | None = strawberry.field(
        default=None, description="The product's tags (feeding, furniture...): rules can test them."
    )


def line_inputs(lines: list[OrderLineInputGql]) -> tuple[OrderLineInput, ...]:
    return tuple(
        OrderLineInput(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            category=line.category,
            tags=tuple(line.tags or ()),
        )
        for line in lines
    )


@strawberry.input
class RecordOrderInput:
    external_id: str
    customer_external_id: str
    currency: str
    lines: list[OrderLineInputGql]
    placed_at: datetime | None = None
    shipping_amount: Decimal | None = None
    coupon_codes: list[str] | None = None
    country: str | None = strawberry.field(default=None, description="The shipping country (ISO 3166-1 alpha-2).")
    cart_id: str | None = strawberry.field(
        default=None,
        description="The cart (updateCart) this order closes: no cart.abandoned follows; a cart already"
        " abandoned counts as recovered.",
    )


@strawberry.type
class AppliedRule:
    rule_id: str
    points: int
    reason: str

    @classmethod
    def of(cls, awards: Iterable[PointsAward]) -> list[AppliedRule]:
        return [cls(rule_id=a.rule_id, points=a.points, reason=a.reason) for a in awards]


def _order(root: RecordOrderPayload) -> Order | None:
    return None if root.result is None else Order.of(root.result.order)


def _applied_rules(root: RecordOrderPayload) -> list[AppliedRule]:
    return [] if root.result is None else AppliedRule.of(root.result.order.awards)


def _free_products(root: RecordOrderPayload) -> list[FreeProduct]:
    if root.result is None:
        return []
    stored = root.result.order
    return [FreeProduct.of(p, stored.program_currency) for p in stored.free_items]


@strawberry.type
class RecordOrderPayload:
    # The order, its rules and free products are made only when a query asks for them
    # (most stores ask for pointsEarned and errors), from the recorded result.
    order: Order | None = strawberry.field(resolver=_order)
    points_earned: int = 0
    replayed: bool = strawberry.field(
        default=False, description="True when this order id was already recorded: nothing new was written."
    )
    applied_rules: list[AppliedRule] = strawberry.field(resolver=_applied_rules)
    free_products: list[FreeProduct] = strawberry.field(
        resolver=_free_products,
        description="Products the rules' free_item gave the order: the store adds each as a line at price 0"
        " (its value counted toward the per-order discount cap).",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)
    result: strawberry.Private[orders.OrderResult | None] = None


@strawberry.type
class OrderMutations:
    @strawberry.mutation(
        description="Idempotent on externalId: recording an order again returns the first result.",
        permission_classes=[any_scope(Scope.ORDERS_WRITE)],
    )
    async def record_order(self, info: Info, input: RecordOrderInput) -> RecordOrderPayload:
        data = OrderInput(
            external_id=input.external_id,
            customer_external_id=input.customer_external_id,
            currency=input.currency,
            lines=line_inputs(input.lines),
            placed_at=input.placed_at,
            shipping_amount=input.shipping_amount,
            coupon_codes=tuple(input.coupon_codes or ()),
            country=input.country,
            cart_id=input.cart_id,
        )
        try:
            result = await orders.record_order(info.context.services.uow, info.context.services.program, data)
        except DomainError as error:
            return RecordOrderPayload(errors=user_errors(error))
        return RecordOrderPayload(result=result, points_earned=result.points_earned, replayed=result.replayed)


@strawberry.input(name="ReturnLineInput")
class ReturnLineInputGql:
    sku: str
    quantity: int


@strawberry.input
class RecordReturnInput:
    external_id: str
    order_external_id: str
    lines: list[ReturnLineInputGql]


@strawberry.type
class OrderReturn:
    external_id: str
    order_external_id: str
    returned_amount: Money
    points_reversed: int


@strawberry.type
class RecordReturnPayload:
    order_return: OrderReturn | None = strawberry.field(name="return", default=None)
    points_reversed: int = 0
    points_unrecovered: int = strawberry.field(
        default=0, description="Points the return should have taken back but the customer had already spent."
    )
    replayed: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReturnMutations:
    @strawberry.mutation(
        description="Takes back what the returned part of an order earned; idempotent on externalId.",
        permission_classes=[any_scope(Scope.ORDERS_WRITE)],
    )
    async def record_return(self, info: Info, input: RecordReturnInput) -> RecordReturnPayload:
        data = ReturnInput(
            external_id=input.external_id,
            order_external_id=input.order_external_id,
            lines=tuple(ReturnLineInput(sku=line.sku, quantity=line.quantity) for line in input.lines),
        )
        try:
            result = await returns.record_return(info.context.services.uow, data)
        except DomainError as error:
            return RecordReturnPayload(errors=user_errors(error))
        stored = result.order_return
        return RecordReturnPayload(
            order_return=OrderReturn(
                external_id=stored.external_id,
                order_external_id=stored.order_external_id,
                returned_amount=Money(amount=stored.returned_amount, currency=stored.currency),
                points_reversed=stored.points_reversed,
            ),
            points_reversed=stored.points_reversed,
            points_unrecovered=stored.points_unrecovered,
            replayed=result.replayed,
        )
