"""Exact money: Decimal amounts in an ISO 4217 currency.

Codes and minor units come from the `iso4217` package, which is generated from the ISO 4217
maintenance agency's own list (its version is the list's date): update the pin to follow a
new list. Codes with no minor units there (gold, SDRs, test codes) are not money and are
refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from iso4217 import Currency

from domain.errors import DomainError, ErrorCode

_MINOR_UNITS: dict[str, int] = {c.code: c.exponent for c in Currency if c.exponent is not None}

MAX_AMOUNT = Decimal(10) ** 12
"""The largest amount accepted anywhere (a price, shipping, an order's subtotal, in its own
currency or converted): amount columns hold 16 integer digits (DECIMAL(20,4)), and a
customer's lifetime spend sums many orders, so single amounts stay far below that."""

MAX_LIFETIME_SPEND = Decimal(10) ** 16 - 1
"""What the lifetime-spend column holds."""

# Plain decimal text: digits, an optional fraction, an optional exponent. No sign (a
# negative amount, or "-0", is refused), no spaces, no underscores, no "NaN"/"Infinity":
# Python's Decimal accepts all of those, the columns and the other systems a store
# talks to do not.
_AMOUNT_TEXT = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")


def minor_units(currency: str) -> int:
    return _MINOR_UNITS[validate_currency(currency)]


def is_currency(code: str) -> bool:
    return code in _MINOR_UNITS


def validate_currency(currency: str, field: list[str] | None = None) -> str:
    if currency not in _MINOR_UNITS:
        raise DomainError(
            ErrorCode.UNKNOWN_CURRENCY,
            f"'{currency}' is not an ISO 4217 currency code (for example EUR, USD, JPY).",
            field or ["currency"],
        )
    return currency


def too_large(field: list[str], what: str = "An amount") -> DomainError:
    return DomainError(ErrorCode.INVALID_AMOUNT, f"{what} is at most {MAX_AMOUNT:,}.", field)


def _decimal(value: str | Decimal, field: list[str]) -> Decimal:
    if isinstance(value, Decimal):
        if value.is_signed() and value.is_finite():
            raise DomainError(ErrorCode.INVALID_PRICE, f"An amount cannot be negative; got '{value}'.", field)
        if not value.is_finite():
            raise DomainError(ErrorCode.INVALID_AMOUNT, "The amount must be a finite number.", field)
        return value
    text = str(value)
    if text.startswith("-") and _AMOUNT_TEXT.fullmatch(text[1:]):
        raise DomainError(ErrorCode.INVALID_PRICE, f"An amount cannot be negative; got '{text}'.", field)
    if not _AMOUNT_TEXT.fullmatch(text):
        raise DomainError(
            ErrorCode.INVALID_AMOUNT,
            f"'{text[:40]}' is not a decimal amount: write digits with an optional fraction,"
            " such as 1000 or 19.99 (no sign, spaces or separators).",
            field,
        )
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal can hold at all
        raise too_large(field) from None


def parse_amount(value: str | Decimal, currency: str | None, field: list[str]) -> Decimal:
    """A non-negative amount, at most MAX_AMOUNT, with no more decimals than the currency
    has. With no (known) currency only the number itself is checked, so that its problems
    are still reported."""
    amount = _decimal(value, field)
    if amount > MAX_AMOUNT:
        raise too_large(field)
    if currency is None:
        return amount
    digits = minor_units(currency)
    exponent = Decimal(1).scaleb(-digits)
    # Below MAX_AMOUNT the quantized value needs at most 16 digits: within Decimal's precision.
    if amount != amount.quantize(exponent):
        raise DomainError(
            ErrorCode.INVALID_AMOUNT,
            f"{currency} amounts have at most {digits} decimal places; got '{value}'.",
            field,
        )
    return amount.quantize(exponent)
