from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from api.context import Info
from api.customers.types import Customer
from api.scalars import Money
from app.orders import StoredOrder


@strawberry.type
class Order:
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

    @strawberry.field
    async def customer(self, info: Info) -> Customer | None:
        found = await info.context.customers.load(self.customer_external_id)
        return Customer.of(found) if found else None
