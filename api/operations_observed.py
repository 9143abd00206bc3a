"""What GraphQL knows about a request, written into its RequestRecord (api/observed.py):
the operation, the caller's kind, and its errors sorted into the client's mistakes and
the server's faults.

Strawberry logs every error with its traceback (`Schema.process_errors`), a client's
mistake included: the issue counted four tracebacks for three permission errors and a
bad cursor. `process_errors` is the hook strawberry documents for changing that; here it
only sorts the errors, and the request's one log line reports them (a traceback only for
the server's faults). Outside a request (a test executing the schema) it logs them itself.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from api.observed import current_record
from api.prepared import PreparedSchema
from domain.auth import ApiKeyCaller, CustomerCaller
from domain.errors import DomainError

log = logging.getLogger("loyalty.graphql")

# More root fields than this in one operation are labelled as a batch: labels stay few.
MAX_LABELLED_FIELDS = 3


def is_client_mistake(error: GraphQLError) -> bool:
    """Syntax, validation, permission, and rejected input (a bad cursor): the client's to fix."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | PermissionError | DomainError)


class ObservedSchema(PreparedSchema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        record = current_record()
        for error in errors:
            mistake = is_client_mistake(error)
            if record is None:
                if mistake:
                    log.info("GraphQL error: %s", error.message)
                else:
                    log.error("GraphQL error: %s", error.message, exc_info=error.original_error)
            elif mistake:
                record.client_errors.append(error.message)
            else:
                assert error.original_error is not None
                record.internal_errors.append(error.original_error)


class ObserveOperations(SchemaExtension):
    """Names the operation and the caller in the request's record; when the server
    failed, gives the client the request id (`extensions.requestId`) to quote."""

    def on_execute(self) -> Generator[None, None, None]:
        record = current_record()
        if record is not None:
            context = self.execution_context
            record.operation_name = context.operation_name
            record.operation = operation_label(context.graphql_document, context.operation_name)
            record.caller = caller_kind(getattr(context.context, "caller", None))
        yield

    def get_results(self) -> dict[str, Any]:
        record = current_record()
        if record is not None and record.internal_errors:
            return {"requestId": record.request_id}
        return {}


def caller_kind(caller: object) -> str:
    if isinstance(caller, ApiKeyCaller):
        return "api_key"
    if isinstance(caller, CustomerCaller):
        return "customer"
    return "anonymous"


def operation_label(document: DocumentNode | None, operation_name: str | None) -> str | None:
    """`recordOrder`, `customer,rulesVersion`: the root fields the operation selects,
    sorted; `batch` past MAX_LABELLED_FIELDS. None when there is no such operation."""
    if document is None:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    names = sorted({s.name.value for s in operations[0].selection_set.selections if isinstance(s, FieldNode)})
    if not names:
        return operations[0].operation.value
    return ",".join(names) if len(names) <= MAX_LABELLED_FIELDS else "batch"
