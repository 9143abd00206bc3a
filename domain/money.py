"""Exact money: Decimal amounts in an ISO 4217 currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from domain.errors import DomainError, ErrorCode

# Active ISO 4217 codes and their minor units (digits after the point).
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
        "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
        "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
        "LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO "
        "NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE "
        "SOS SRD SSP STN SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH UYU UZS VES WST XCD YER "
        "ZAR ZMW ZWG".split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS[validate_currency(currency)]


def validate_currency(currency: str, field: list[str] | None = None) -> str:
    if currency not in _MINOR_UNITS:
        raise DomainError(
            ErrorCode.UNKNOWN_CURRENCY,
            f"'{currency}' is not an ISO 4217 currency code (for example EUR, USD, JPY).",
            field or ["currency"],
        )
    return currency


def parse_amount(value: str | Decimal, currency: str | None, field: list[str]) -> Decimal:
    """A non-negative amount with no more decimals than the currency has. With no (known)
    currency only the number itself is checked, so that its problems are still reported."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise DomainError(
            ErrorCode.INVALID_AMOUNT, f"'{value}' is not a decimal amount.", field
        ) from None
    if not amount.is_finite():
        raise DomainError(ErrorCode.INVALID_AMOUNT, "The amount must be a finite number.", field)
    if amount < 0:
        raise DomainError(ErrorCode.INVALID_PRICE, "An amount cannot be negative.", field)
    if currency is None:
        return amount
    digits = minor_units(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits and amount != amount.quantize(
        Decimal(1).scaleb(-digits)
    ):
        raise DomainError(
            ErrorCode.INVALID_AMOUNT,
            f"{currency} amounts have at most {digits} decimal places; got '{value}'.",
            field,
        )
    return amount.quantize(Decimal(1).scaleb(-digits))
