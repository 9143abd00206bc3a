"""Expected failures are data: every mutation payload carries `errors: [UserError!]!`.

`app/` and below name fields as the domain does (`customer_external_id`, `lines.0.unit_price`);
here they become the paths of the GraphQL input a client sent (`customerExternalId`, ...).
"""

from __future__ import annotations

import strawberry
from strawberry.utils.str_converters import to_camel_case

from domain.errors import DomainError, DomainErrors


@strawberry.type
class UserError:
    field: list[str] | None
    code: str
    message: str


def api_path(field: list[str] | None) -> list[str] | None:
    """A domain field path as the client's input names it: strawberry's own naming of
    Python fields, so the two cannot drift."""
    return [to_camel_case(part) for part in field] if field is not None else None


def user_errors(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [UserError(field=api_path(e.field), code=e.code.value, message=e.message) for e in errors]
