from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import UserError, user_errors
from api.orders.mutations import OrderLineInputGql, line_inputs
from api.permissions import any_scope
from api.scalars import Money
from app import cart_updates
from domain.auth import Scope
from domain.errors import DomainError


@strawberry.input(description="A live cart as the store has it now.")
class UpdateCartInput:
    cart_id: str = strawberry.field(description="The store's own id for the cart; an order names it in cartId.")
    customer_external_id: str = strawberry.field(description="The customer whose cart it is.")
    currency: str = strawberry.field(description="The cart's currency (ISO 4217), as for an order.")
    lines: list[OrderLineInputGql] = strawberry.field(description="The cart's lines now: they replace earlier ones.")


@strawberry.type(description="A cart line as the store last sent it.")
class CartLine:
    sku: str = strawberry.field(description="The product.")
    quantity: int = strawberry.field(description="How many of it.")
    unit_price: Money = strawberry.field(description="In the cart's currency.")
    category: str | None = strawberry.field(default=None, description="The product's category, when sent.")


@strawberry.type(description="A live cart the store sent with updateCart.")
class Cart:
    cart_id: str = strawberry.field(description="The store's own id for the cart.")
    customer_external_id: str = strawberry.field(description="The customer whose cart it is.")
    state: str = strawberry.field(
        description="open; abandoned (cart.abandoned was sent); ordered (an order closed it); recovered (an order"
        " closed it after it was abandoned)."
    )
    lines: list[CartLine] = strawberry.field(description="The lines of the latest update.")
    value: Money = strawberry.field(description="The lines' subtotal, in the cart's currency.")
    updated_at: datetime = strawberry.field(description="When the store last updated it.")
    abandoned_at: datetime | None = strawberry.field(description="When it was last abandoned.")
    closed_at: datetime | None = strawberry.field(description="When an order closed it.")
    order_external_id: str | None = strawberry.field(description="The order that closed it.")

    @classmethod
    def of(cls, cart: cart_updates.StoredCart) -> Cart:
        return cls(
            cart_id=cart.cart_id,
            customer_external_id=cart.customer_external_id,
            state=cart.state,
            lines=[
                CartLine(
                    sku=line["sku"],
                    quantity=line["quantity"],
                    unit_price=Money(amount=Decimal(line["unitPrice"]), currency=cart.currency),
                    category=line.get("category"),
                )
                for line in cart.lines
            ],
            value=Money(amount=cart.subtotal, currency=cart.currency),
            updated_at=cart.updated_at,
            abandoned_at=cart.abandoned_at,
            closed_at=cart.closed_at,
            order_external_id=cart.order_external_id,
        )


@strawberry.type(description="The cart as recorded, or why nothing was recorded.")
class UpdateCartPayload:
    cart: Cart | None = strawberry.field(default=None, description="The cart as recorded; null when refused.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was recorded; empty on success."
    )


@strawberry.type
class CartMutations:
    @strawberry.mutation(
        description="Tells the service about a live cart (abandoned-cart detection): the latest lines win, and an"
        " update re-opens an abandoned cart. recordOrder(cartId) closes it.",
        permission_classes=[any_scope(Scope.ORDERS_WRITE)],
    )
    async def update_cart(
        self,
        info: Info,
        input: Annotated[UpdateCartInput, strawberry.argument(description="The cart's id, customer and lines.")],
    ) -> UpdateCartPayload:
        update = cart_updates.CartUpdate(
            cart_id=input.cart_id,
            customer_external_id=input.customer_external_id,
            currency=input.currency,
            lines=line_inputs(input.lines),
        )
        try:
            stored = await cart_updates.update_cart(info.context.services.uow, info.context.services.program, update)
        except DomainError as error:
            return UpdateCartPayload(errors=user_errors(error))
        return UpdateCartPayload(cart=Cart.of(stored))
