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
    INVALID_COUNTRY = "INVALID_COUNTRY"
    CURRENCY_NOT_ACCEPTED = "CURRENCY_NOT_ACCEPTED"
    POINTS_LIMIT = "POINTS_LIMIT"
    INVALID_ID = "INVALID_ID"
    INVALID_EMAIL = "INVALID_EMAIL"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    ZERO_POINTS = "ZERO_POINTS"
    RULES_INVALID = "RULES_INVALID"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    REWARD_NOT_FOUND = "REWARD_NOT_FOUND"
    REWARD_NOT_REDEEMABLE = "REWARD_NOT_REDEEMABLE"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    COUPON_NOT_FOUND = "COUPON_NOT_FOUND"
    COUPON_NOT_YOURS = "COUPON_NOT_YOURS"
    COUPON_USED = "COUPON_USED"
    COUPON_EXPIRED = "COUPON_EXPIRED"
    COUPON_CANCELLED = "COUPON_CANCELLED"
    COUPON_NOT_APPLICABLE = "COUPON_NOT_APPLICABLE"
    REFERRAL_CODE_UNKNOWN = "REFERRAL_CODE_UNKNOWN"
    SELF_REFERRAL = "SELF_REFERRAL"
    ALREADY_REFERRED = "ALREADY_REFERRED"
    REFERRER_ENROLLED_LATER = "REFERRER_ENROLLED_LATER"
    REFERRAL_TOO_LATE = "REFERRAL_TOO_LATE"
    FEEDBACK_ALREADY_SUBMITTED = "FEEDBACK_ALREADY_SUBMITTED"
    WEBHOOK_TARGET_REFUSED = "WEBHOOK_TARGET_REFUSED"
    CART_NOT_YOURS = "CART_NOT_YOURS"
    """The cart id names another customer's cart."""
    CART_CLOSED = "CART_CLOSED"
    """An order closed the cart: a new cart needs a new id."""
    INVALID_ATTRIBUTE = "INVALID_ATTRIBUTE"
    """A customer attribute the rule files do not declare, or a value of the wrong type."""


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
