"""Expected failures are data: every mutation payload carries `errors: [UserError!]!`."""

from __future__ import annotations

import strawberry

from domain.errors import DomainError, DomainErrors


@strawberry.type
class UserError:
    field: list[str] | None
    code: str
    message: str


def user_errors(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [UserError(field=e.field, code=e.code.value, message=e.message) for e in errors]
