from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.money import minor_units


@strawberry.type(description="An exact amount (a decimal string) in an ISO 4217 currency.")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        """With the currency's exponent, as every amount reads ("0.00" EUR, not "0")."""
        return cls(amount=amount.quantize(Decimal(1).scaleb(-minor_units(currency))), currency=currency)


def _amount_text(value: object) -> str:
    # Decimal inputs reach the domain as the client wrote them: Python's Decimal would
    # accept "1_000", " 1 " and "-0", and turn "1e400" into a number no column holds, so
    # domain.money parses the text strictly and answers a UserError naming the field.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f'Decimal cannot represent {value!r}: send a string such as "19.99".')
    return value if isinstance(value, str) else str(value)


DECIMAL = strawberry.scalar(
    name="Decimal",
    description="Decimal (fixed-point)",
    serialize=str,
    parse_value=_amount_text,
)
"""The `Decimal` scalar, for the schema's `scalar_map`: resolvers receive amounts as text."""
