from __future__ import annotations

from decimal import Decimal

import strawberry


@strawberry.type(description="An exact amount (a decimal string) in an ISO 4217 currency.")
class Money:
    amount: Decimal
    currency: str
