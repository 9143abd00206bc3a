"""Operations that passed parsing and validation run straight on graphql-core.

Strawberry runs each request through its extension pipeline: one instance of every
extension, a context manager per hook per phase, even when the document comes from the
caches. For recordOrder that machinery was a tenth of the request's CPU, measured by
py-spy, around work that was already done. So a query text is parsed (with the token
limit) and validated (with every rule the schema enforces, limits included) once; while
it stays in the bounded cache, requests for it go to graphql-core's `execute` with the
same arguments strawberry gives it, and their errors are logged and masked as the
pipeline would. Anything else (a text that failed, an operation type the transport does
not allow, an unknown operation name) takes strawberry's own path, which reports it exactly
as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import strawberry
from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSyntaxError, parse, specified_rules
from graphql import execute as graphql_execute
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, validate_document
from strawberry.types import ExecutionResult
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.operation import get_operation_type


class PreparedDocuments:
    """Query texts and what preparing them gave: the document, or None when it failed to
    parse or validate (so a failing text is not prepared again on every request; the
    pipeline's own caches answer it). Bounded, least recently used out."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._documents: OrderedDict[str, DocumentNode | None] = OrderedDict()

    def get(self, query: str) -> tuple[bool, DocumentNode | None]:
        """(whether the text was prepared before, its document or None if it failed)."""
        if query not in self._documents:
            return False, None
        self._documents.move_to_end(query)
        return True, self._documents[query]

    def put(self, query: str, document: DocumentNode | None) -> None:
        self._documents[query] = document
        if len(self._documents) > self.maxsize:
            self._documents.popitem(last=False)


Mask = Callable[[list[GraphQLError]], list[GraphQLError]]


class PreparedSchema(strawberry.Schema):
    """A strawberry schema whose validated operations skip the extension pipeline."""

    _prepared: PreparedDocuments | None = None  # until prepare() is called: strawberry's path only

    def prepare(
        self,
        *,
        limits: Sequence[type[ASTValidationRule]],
        max_tokens: int,
        maxsize: int,
        mask: Mask | None,
    ) -> None:
        """`limits` and `max_tokens` must be those the schema's extensions enforce, and
        `mask` what its MaskErrors does: the two paths must accept and answer alike."""
        # What strawberry validates with: graphql-core's rules (its ExecutionContext
        # default), the limits (AddValidationRules), and its own two (validate_document).
        self._rules = (*specified_rules, *limits)
        self._max_tokens = max_tokens
        self._prepared = PreparedDocuments(maxsize)
        self._mask = mask

    def _document(self, query: str | None) -> DocumentNode | None:
        if not query or self._prepared is None:
            return None
        seen, document = self._prepared.get(query)
        if seen:
            return document
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLSyntaxError:
            document = None
        if document is not None and validate_document(self._schema, document, self._rules):
            document = None
        self._prepared.put(query, document)
        return document

    async def execute(  # noqa: PLR0917
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        document = self._document(query)
        allowed = DEFAULT_ALLOWED_OPERATION_TYPES if allowed_operation_types is None else allowed_operation_types
        try:
            usable = document is not None and get_operation_type(document, operation_name) in allowed
        except RuntimeError:
            usable = False
        if not usable:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        assert document is not None
        result = await await_maybe(
            graphql_execute(
                self._schema,
                document,
                root_value=root_value,
                context_value=context_value,
                variable_values=variable_values,
                operation_name=operation_name,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as strawberry passes it
                executor_class=self.execution_context_class,
                operation_extensions=operation_extensions,
            )
        )
        errors = result.errors
        if errors:
            self._process_errors(errors, self._context(query, variable_values, context_value, operation_name))
            if self._mask is not None:
                errors = self._mask(errors)
        return ExecutionResult(data=result.data, errors=errors, extensions={})

    def _context(
        self, query: str | None, variables: dict[str, Any] | None, context: Any, operation_name: str | None
    ) -> ExecutionContext:
        """What the error log is given, as strawberry's pipeline would give it."""
        return ExecutionContext(
            query=query,
            schema=self,
            allowed_operations=(),
            context=context,
            variables=variables,
            provided_operation_name=operation_name,
        )
