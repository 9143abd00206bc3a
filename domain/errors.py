"""Expected failures carry a stable code; the API maps them to `UserError`s."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    RETURN_EXCEEDS_ORDER = "RETURN_EXCEEDS_ORDER"
    EMPTY_ORDER = "EMPTY_ORDER"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY"
    CURRENCY_NOT_ACCEPTED = "CURRENCY_NOT_ACCEPTED"
    POINTS_LIMIT = "POINTS_LIMIT"
    INVALID_ID = "INVALID_ID"
    INVALID_EMAIL = "INVALID_EMAIL"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    ZERO_POINTS = "ZERO_POINTS"
    RULES_INVALID = "RULES_INVALID"
    PERMISSION_DENIED = "PERMISSION_DENIED"


class DomainError(Exception):
    """A request the program refuses; nothing has been written when it is raised."""

    def __init__(self, code: ErrorCode, message: str, field: list[str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class DomainErrors(DomainError):
    """Several independent problems found in one input, reported together."""

    def __init__(self, errors: list[DomainError]):
        assert errors, "DomainErrors needs at least one error"
        super().__init__(errors[0].code, errors[0].message, errors[0].field)
        self.errors = errors
