"""A database that refuses connections is answered as such: HTTP 503 and a GraphQL error
with the code SERVICE_UNAVAILABLE, logged for the operator, instead of a masked
"Unexpected error." in an HTTP 200 that neither the caller nor a load balancer could tell
from a bug."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.types import ExecutionResult

from app.database_admin import is_unavailable

CODE = "SERVICE_UNAVAILABLE"
STATUS = 503
MESSAGE = "The service cannot reach its database right now; try again shortly."

log = logging.getLogger("loyalty.api")


def database_unavailable(error: GraphQLError) -> bool:
    return error.original_error is not None and is_unavailable(error.original_error)


def answer(result: ExecutionResult) -> tuple[int, ExecutionResult]:
    """The HTTP status for a result, and the result with each database-unavailable error
    replaced by one that says so (the driver's own words stay in the log)."""
    errors = result.errors
    if not errors or not any(database_unavailable(e) for e in errors):
        return 200, result
    for error in errors:
        if database_unavailable(error):
            log.error("database unavailable, answered 503: %r", error.original_error)
    replaced = [
        GraphQLError(MESSAGE, nodes=e.nodes, path=e.path, extensions={"code": CODE}) if database_unavailable(e) else e
        for e in errors
    ]
    return STATUS, ExecutionResult(data=result.data, errors=replaced, extensions=result.extensions)
