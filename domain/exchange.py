"""A program earns in its own currency; orders in other currencies it accepts are converted
at the rates its rule files declare (`exchange_rates`), and any other currency is refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal

from domain.errors import DomainError, ErrorCode
from domain.money import MAX_AMOUNT, minor_units, too_large
from domain.program import OrderFacts


@dataclass(frozen=True)
class Converted:
    facts: OrderFacts
    """The order with its amounts in the program currency (its `currency` stays the order's,
    so rules can still ask what the customer paid in)."""
    program_currency: str
    rate: Decimal
    """Program-currency units per unit of the order's currency; 1 for the program's own."""

    @property
    def subtotal(self) -> Decimal:
        return self.facts.subtotal


@dataclass(frozen=True)
class ExchangeRates:
    program_currency: str = "EUR"
    rates: Mapping[str, Decimal] = field(default_factory=dict)
    """Other accepted currency -> program-currency units per unit of it."""

    def accepts(self, currency: str) -> bool:
        return currency == self.program_currency or currency in self.rates

    def check_accepted(self, currency: str) -> str:
        if not self.accepts(currency):
            accepted = ", ".join([self.program_currency, *sorted(self.rates)])
            raise DomainError(
                ErrorCode.CURRENCY_NOT_ACCEPTED,
                f"This program does not accept {currency}; it accepts {accepted}.",
                ["currency"],
            )
        return currency

    def convert(self, facts: OrderFacts) -> Converted:
        """Each unit price and the shipping converted and rounded (half even) to the program
        currency's minor units; the subtotal is the sum of the converted lines, so the rules
        and the spend see the same figures."""
        self.check_accepted(facts.currency)
        if facts.currency == self.program_currency:
            converted = Converted(facts, self.program_currency, Decimal(1))
        else:
            rate = self.rates[facts.currency]
            unit = Decimal(1).scaleb(-minor_units(self.program_currency))

            def to_program(amount: Decimal) -> Decimal:
                return (amount * rate).quantize(unit, ROUND_HALF_EVEN)

            converted = Converted(
                replace(
                    facts,
                    lines=tuple(replace(line, unit_price=to_program(line.unit_price)) for line in facts.lines),
                    shipping_amount=to_program(facts.shipping_amount),
                ),
                self.program_currency,
                rate,
            )
        if converted.subtotal > MAX_AMOUNT or converted.facts.shipping_amount > MAX_AMOUNT:
            raise too_large(["lines"], f"An order's subtotal or shipping (in {self.program_currency})")
        return converted
