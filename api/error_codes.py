"""Every top-level error carries `extensions.code`, so that a client branches on a code
(Apollo Server's names, which Apollo Client and urql users know) rather than on a message.

Errors the API raises on purpose name their code themselves (SERVICE_UNAVAILABLE,
SLOW_SUBSCRIBER, FORBIDDEN from the permission classes...); the rest are classified here,
as each operation ends, by where they came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext, PreExecutionError


class TopLevelCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    """No credentials were sent, and the field needs some."""
    FORBIDDEN = "FORBIDDEN"
    """The credentials sent do not allow this field."""
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    """The query is not GraphQL (or has more tokens than LOYALTY_MAX_TOKENS)."""
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    """The query does not fit the schema, or breaks a limit (depth, aliases, size...)."""
    BAD_USER_INPUT = "BAD_USER_INPUT"
    """A variable or argument value is refused; `extensions.field` names it when known."""
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    """A bug: its text is masked in production and logged."""
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    """The database cannot be reached (HTTP 503): retry later."""


def code_for(error: GraphQLError, *, executed: bool, authenticated: bool) -> TopLevelCode | str:
    code = (error.extensions or {}).get("code")
    if code == TopLevelCode.FORBIDDEN and not authenticated:
        return TopLevelCode.UNAUTHENTICATED
    if code:
        return str(code)
    if isinstance(error, GraphQLSyntaxError):
        return TopLevelCode.GRAPHQL_PARSE_FAILED
    if error.path is None:
        # Before any field ran: the document (refused before execution), or the
        # variables (coerced as execution starts).
        return TopLevelCode.BAD_USER_INPUT if executed else TopLevelCode.GRAPHQL_VALIDATION_FAILED
    if isinstance(error.original_error, GraphQLError):
        return TopLevelCode.BAD_USER_INPUT  # a resolver's own refusal
    # A resolver raised something else, or (production) that was masked.
    return TopLevelCode.INTERNAL_SERVER_ERROR


class ErrorCodes(SchemaExtension):
    """Sets the codes after masking (it comes before MaskInternalErrors among the
    extensions, so its hook ends after that one's): a masked error keeps a code."""

    def on_operation(self) -> Iterator[None]:
        yield
        set_codes(self.execution_context)


def set_codes(context: ExecutionContext) -> None:
    """Gives each of the operation's errors its code, once the operation has ended."""
    result = context.result
    errors = getattr(result, "errors", None)
    if not errors:
        return
    executed = not isinstance(result, PreExecutionError)
    authenticated = getattr(context.context, "caller", None) is not None
    for error in errors:
        code = code_for(error, executed=executed, authenticated=authenticated)
        if (error.extensions or {}).get("code") != code:
            error.extensions = {**(error.extensions or {}), "code": str(code)}
