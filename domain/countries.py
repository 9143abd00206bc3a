"""Shipping countries: ISO 3166-1 alpha-2 codes, from the `iso3166` package (never typed
in by hand here)."""

from __future__ import annotations

from iso3166 import countries_by_alpha2

from domain.errors import DomainError, ErrorCode


def validate_country(value: str, field: list[str]) -> str:
    """The code in upper case, as rule files write it (`order: {country: FR}`)."""
    code = (value or "").strip().upper()
    if code not in countries_by_alpha2:
        raise DomainError(
            ErrorCode.INVALID_COUNTRY,
            f"'{value}' is not an ISO 3166-1 alpha-2 country code (such as FR or DE).",
            field,
        )
    return code
