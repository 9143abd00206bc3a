"""What GraphQL knows about a request, written into its RequestRecord (api/observed.py):
the operation, the caller's kind, and its errors sorted into the client's mistakes and
the server's faults.

Strawberry logs every error with its traceback (`Schema.process_errors`, to the
`strawberry.execution` logger), a client's mistake included: the issue counted four
tracebacks for three permission errors and a bad cursor. Within a request those records
are dropped (`QuietStrawberryErrors`) and the request's one line reports the errors, with
a traceback only for the server's faults. Outside a request strawberry's logging stands.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode

from api.observed import RequestRecord, current_record
from domain.auth import ApiKeyCaller, CustomerCaller
from domain.errors import DomainError

STRAWBERRY_ERRORS = "strawberry.execution"

# More root fields than this in one operation are labelled as a batch: labels stay few.
MAX_LABELLED_FIELDS = 3


def is_client_mistake(error: GraphQLError) -> bool:
    """Syntax, validation, permission, and rejected input (a bad cursor): the client's to fix."""
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | PermissionError | DomainError)


class QuietStrawberryErrors(logging.Filter):
    """Drops strawberry's per-error log records (with their tracebacks) within a request:
    the request's one line reports the errors, with a traceback for the server's faults."""

    def filter(self, record: logging.LogRecord) -> bool:
        return current_record() is None


def quiet_strawberry_errors() -> None:
    logger = logging.getLogger(STRAWBERRY_ERRORS)
    if not any(isinstance(f, QuietStrawberryErrors) for f in logger.filters):
        logger.addFilter(QuietStrawberryErrors())


def observe_operation(
    context: object, document: DocumentNode | None, operation_name: str | None, errors: list[GraphQLError] | None
) -> None:
    """Writes what the operation was, who asked and what failed into the request's record."""
    record = current_record()
    if record is None:
        return
    record.caller = caller_kind(getattr(context, "caller", None))
    record.operation_name = operation_name
    record.operation = operation_label(document, operation_name)
    sort_errors(record, errors or [])


def request_id_for_faults() -> dict[str, Any]:
    """The result's `extensions` when the server failed: the request id, to quote."""
    record = current_record()
    if record is not None and record.internal_errors:
        return {"requestId": record.request_id}
    return {}


def sort_errors(record: RequestRecord, errors: list[GraphQLError]) -> None:
    for error in errors:
        if is_client_mistake(error):
            record.client_errors.append(error.message)
        else:
            assert error.original_error is not None
            record.internal_errors.append(error.original_error)


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
