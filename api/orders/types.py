from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import relay

from api.context import Info
from api.customers.types import Customer
from api.permissions import may_see_customer
from api.scalars import Money
from app import orders
from app.orders import OrderDetails, StoredOrder
from domain.program import FreeProduct as DomainFreeProduct


@strawberry.type(description="A line of a recorded order.")
class OrderLine:
    sku: str = strawberry.field(description="The product's sku.")
    category: str | None = strawberry.field(description="The product's category, when the store sent one.")
    quantity: int = strawberry.field(description="How many of it.")
    unit_price: Money = strawberry.field(description="In the order's own currency.")
    tags: list[str] = strawberry.field(description="The product's tags the rules saw, sorted; empty when none.")


@strawberry.type(
    description="A product the order gets free: from a rule's free_item (the store adds it as a line at price 0)"
    " or a redeemed reward's coupon code."
)
class FreeProduct:
    sku: str = strawberry.field(description="The product given free.")
    quantity: int = strawberry.field(description="How many of it.")
    rule_id: str = strawberry.field(description="The rule, or reward:<id> for a redeemed reward.")
    value: Money | None = strawberry.field(
        default=None,
        description="What the free units are worth, in the program currency; it counts toward the per-order"
        " discount cap. Null for a redeemed reward's product.",
    )

    @classmethod
    def of(cls, product: DomainFreeProduct, currency: str) -> FreeProduct:
        value = None if product.value is None else Money.of(product.value, currency)
        return cls(sku=product.sku, quantity=product.quantity, rule_id=product.rule_id, value=value)


@strawberry.type(description="A recorded order, as the store sent it and as the rules counted it.")
class Order(relay.Node):
    external_id: str
    customer_external_id: str
    placed_at: datetime
    subtotal: Money = strawberry.field(description="In the order's own currency, as recorded.")
    shipping_amount: Money
    spend: Money = strawberry.field(
        description="The subtotal in the program currency, converted at the rate the rules version"
        " in force declared: what the rules evaluated and what counts as the customer's spend."
    )
    exchange_rate: Decimal = strawberry.field(
        description="Program-currency units per unit of the order's currency (1 for the program's own)."
    )
    points_earned: int
    rules_version: str
    loading: strawberry.Private[asyncio.Future[OrderDetails | None] | None] = None

    @classmethod
    def of(cls, order: StoredOrder) -> Order:
        return cls(
            external_id=order.external_id,
            customer_external_id=order.customer_external_id,
            placed_at=order.placed_at,
            subtotal=Money(amount=order.subtotal, currency=order.currency),
            shipping_amount=Money(amount=order.shipping_amount, currency=order.currency),
            spend=Money(amount=order.program_subtotal, currency=order.program_currency),
            exchange_rate=order.exchange_rate,
            points_earned=order.points_earned,
            rules_version=order.rules_version,
        )

    @classmethod
    def resolve_id(cls, root: Order, *, info: Info) -> str:
        return root.external_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Order | None]:
        return [await _visible_order(info, node_id) for node_id in node_ids]

    def _details(self, info: Info) -> asyncio.Future[OrderDetails | None]:
        # Read once, when lines or country are first asked for, for both.
        if self.loading is None:
            self.loading = asyncio.ensure_future(orders.details(info.context.services.uow, self.external_id))
        return self.loading

    @strawberry.field(description="The shipping country (ISO 3166-1 alpha-2) the store sent; null when none.")
    async def country(self, info: Info) -> str | None:
        found = await self._details(info)
        return found.country if found else None

    @strawberry.field(description="The order's lines, in the order the store sent them.")
    async def lines(self, info: Info) -> list[OrderLine]:
        found = await self._details(info)
        if found is None:
            return []
        return [
            OrderLine(
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                unit_price=Money(amount=line.unit_price, currency=found.currency),
                tags=list(line.tags),
            )
            for line in found.lines
        ]

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        found = await info.context.customers.load(self.customer_external_id)
        return Customer.of(found) if found else None


async def _visible_order(info: Info, external_id: str) -> Order | None:
    """The order, when the caller may see its customer (null otherwise, as for a missing one)."""
    if not external_id or len(external_id) > 128:
        return None
    found = await orders.find_order(info.context.services.uow, external_id)
    if found is None or not may_see_customer(info, found.customer_external_id):
        return None
    return Order.of(found)
