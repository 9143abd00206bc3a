"""Expected failures are data: every mutation payload carries `errors: [UserError!]!`.

`app/` and below name fields as the domain does (`customer_external_id`, `lines.0.unit_price`);
here they become the names of the GraphQL input the client sent (`customerExternalId`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import strawberry
from strawberry.utils.str_converters import to_camel_case

from domain.errors import DomainError, DomainErrors, ErrorCode

# Why each code is given, for the schema's enum; a code the domain adds without one here
# fails tests/unit/test_schema_conventions.py.
CODE_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.INVALID: "The value does not fit the field: wrong format, length or choice.",
    ErrorCode.REQUIRED: "The field must be given.",
    ErrorCode.NOT_FOUND: "Nothing has this id.",
    ErrorCode.INVALID_ATTRIBUTE: "An attribute the rule files do not declare, or a value not of its declared type.",
    ErrorCode.ALREADY_EXISTS: "Something with this id exists already.",
    ErrorCode.CUSTOMER_NOT_FOUND: "No customer has this externalId.",
    ErrorCode.ORDER_NOT_FOUND: "No order has this externalId.",
    ErrorCode.RETURN_EXCEEDS_ORDER: "More is returned than the order holds (with earlier returns).",
    ErrorCode.EMPTY_ORDER: "An order needs at least one line.",
    ErrorCode.INVALID_QUANTITY: "A quantity must be a whole number of at least 1.",
    ErrorCode.INVALID_PRICE: "A price must be zero or more.",
    ErrorCode.INVALID_AMOUNT: "An amount must be a finite decimal within the limits (docs/limits.md).",
    ErrorCode.UNKNOWN_CURRENCY: "Not an ISO 4217 currency code.",
    ErrorCode.CURRENCY_NOT_ACCEPTED: "The program has no exchange rate for this currency.",
    ErrorCode.POINTS_LIMIT: "The change would take a balance past the points limit (docs/limits.md).",
    ErrorCode.INVALID_ID: "Not a valid id (see the message for what an id may hold).",
    ErrorCode.INVALID_EMAIL: "Not an email address.",
    ErrorCode.IDEMPOTENCY_CONFLICT: "This idempotency key was used for a different request.",
    ErrorCode.INSUFFICIENT_POINTS: "The customer has fewer available points than this needs.",
    ErrorCode.ZERO_POINTS: "An adjustment must credit or debit at least one point.",
    ErrorCode.RULES_INVALID: "The rule files do not validate: the rules in force stay in force.",
    ErrorCode.PERMISSION_DENIED: "The caller may not do this.",
    ErrorCode.WEBHOOK_TARGET_REFUSED: "The webhook URL points somewhere deliveries may not go.",
    ErrorCode.INVALID_COUNTRY: "Not an ISO 3166-1 alpha-2 country code (such as FR or DE).",
    ErrorCode.REFERRAL_CODE_UNKNOWN: "No customer has this referral code.",
    ErrorCode.SELF_REFERRAL: "A customer cannot refer themselves.",
    ErrorCode.ALREADY_REFERRED: "The customer was already referred by someone.",
    ErrorCode.REFERRER_ENROLLED_LATER: "The referrer enrolled after the customer they would refer.",
    ErrorCode.REFERRAL_TOO_LATE: "The customer has already ordered; a referral must come before the first order.",
    ErrorCode.FEEDBACK_ALREADY_SUBMITTED: "Feedback on this order was already submitted.",
    ErrorCode.REWARD_NOT_FOUND: "No reward has this id.",
    ErrorCode.REWARD_NOT_REDEEMABLE: "The reward cannot be redeemed now (the message says why).",
    ErrorCode.OUT_OF_STOCK: "The reward has no stock left.",
    ErrorCode.COUPON_NOT_FOUND: "No redemption has this code.",
    ErrorCode.COUPON_NOT_YOURS: "The coupon code belongs to another customer.",
    ErrorCode.COUPON_USED: "The coupon code was already used.",
    ErrorCode.COUPON_EXPIRED: "The coupon code has expired.",
    ErrorCode.COUPON_CANCELLED: "The coupon code was cancelled.",
    ErrorCode.COUPON_NOT_APPLICABLE: "The coupon does not apply to this order (the message says why).",
    ErrorCode.CART_NOT_YOURS: "The cart id names another customer's cart.",
    ErrorCode.CART_CLOSED: "An order closed this cart; a new cart needs a new cartId.",
}

# The domain's codes as a GraphQL enum: in JSON each is the same string as before, and
# codegen tools give clients an exhaustive type. Built from ErrorCode so that one list
# holds the codes; the domain's enum itself carries nothing of strawberry.
_UserErrorCode = Enum(  # type: ignore[misc]
    "UserErrorCode",
    {code.name: strawberry.enum_value(code.value, description=CODE_DESCRIPTIONS.get(code)) for code in ErrorCode},
)
UserErrorCode = strawberry.enum(_UserErrorCode, description="Why an input was refused (domain/errors.py).")


@strawberry.type(description="Something in the input the caller can fix; nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="The path to the input field at fault (e.g. lines, 0, unitPrice); null when it is the whole input."
    )
    code: UserErrorCode  # type: ignore[valid-type]
    message: str = strawberry.field(description="What was wrong, and what to do, for a person to read.")


def error_code(code: ErrorCode) -> UserErrorCode:  # type: ignore[valid-type]
    return UserErrorCode[code.name]


# Inputs whose parts after them are the client's own keys, not field names: kept as sent.
_KEYED_BY_CLIENT = frozenset({"attributes"})


def api_path(field: list[str] | None, names: Mapping[str, str] | None = None) -> list[str] | None:
    """A domain field path as the client's input names it: strawberry's own naming of Python
    fields (so the two cannot drift), or `names` where an operation's input is named
    otherwise than the domain's field. Indexes, and keys of a JSON object, stay as they are."""
    if field is None:
        return None
    path: list[str] = []
    for part in field:
        keyed = bool(path) and path[-1] in _KEYED_BY_CLIENT
        path.append(part if keyed else (names or {}).get(part) or to_camel_case(part))
    return path


def user_errors(error: DomainError, names: Mapping[str, str] | None = None) -> list[UserError]:
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [UserError(field=api_path(e.field, names), code=error_code(e.code), message=e.message) for e in errors]
