"""Orders and events as they were recorded, with their customer's facts as of then: what a
backtest replays (`loyalty rules simulate`, app.simulation).

"As of then" goes as far as the database keeps history: the customer's earlier orders
(count, spend, last date), the points earned before (the ledger) and the tier held then
(tier changes are reward events) are of that moment; tags, attributes, birthday and
referral are the customer's today. Line tags, the shipping country and redemptions' codes
are not stored with an order, so a replayed order has none.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from domain.exchange import ExchangeRates
from domain.program import CustomerFacts, EventFacts, OrderFacts
from domain.rewards import looks_like_redemption_code


@dataclass(frozen=True)
class RecordedOrder:
    external_id: str
    at: datetime
    """When it was placed: what the rules are evaluated as of."""
    customer: CustomerFacts
    order: OrderFacts
    """In the order's own currency, as stored."""
    program_currency: str
    rate: Decimal
    """Program-currency units per unit of the order's currency, as the order was converted."""

    def rule_facts(self) -> OrderFacts:
        """The order as the rules saw it: its amounts converted at its own rate, as recording
        converted them, and marketers' plain coupons only (a redemption's code brings its
        reward, which no rule decides)."""
        order = self.order
        plain = frozenset(code for code in order.coupon_codes if not looks_like_redemption_code(code))
        if plain != order.coupon_codes:
            order = replace(order, coupon_codes=plain)
        if order.currency == self.program_currency:
            return order
        return ExchangeRates(self.program_currency, {order.currency: self.rate}).convert(order).facts


@dataclass(frozen=True)
class RecordedEvent:
    external_id: str
    at: datetime
    customer: CustomerFacts
    event: EventFacts
