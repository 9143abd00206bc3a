"""The service's own schema extensions as one (see ServiceOperations)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any, cast

from graphql import GraphQLError
from strawberry.types import StreamExecutionResult

from api.error_codes import set_codes
from api.operations_observed import observe_operation, request_id_for_faults
from api.prepared import CheckedQueries, MaskInternalErrors, QueryChecker


class ServiceOperations(CheckedQueries):
    """CheckedQueries, then (when asked) the observation of the operation, then (in production)
    MaskInternalErrors, then ErrorCodes, as one extension with one hook: each extension
    strawberry holds costs an instance, a look-up of each of its hooks and a context
    manager per hook on every request. What each does is unchanged and in the order the
    separate extensions had: the check before the operation; after it the observation
    (before masking hides what failed), the masking, then the codes (so a masked error
    keeps one). Streamed results are masked by `on_stream_result`, as MaskErrors does."""

    def __init__(
        self,
        checker: QueryChecker,
        should_mask_error: Callable[[GraphQLError], bool] | None = None,
        observe: bool = False,
    ):
        super().__init__(checker)
        self.observe = observe
        self.masking = MaskInternalErrors(should_mask_error=should_mask_error) if should_mask_error else None

    def on_operation(self) -> Iterator[None]:
        self.check()
        masking = None
        if self.masking is not None:
            self.masking.execution_context = self.execution_context
            masking = cast(Generator[None, None, None], self.masking.on_operation())
            next(masking)
        yield
        context = self.execution_context
        if self.observe:
            errors = context.result.errors if context.result is not None else context.pre_execution_errors
            observe_operation(context.context, context.graphql_document, context.operation_name, errors)
        if masking is not None:
            next(masking, None)
        set_codes(context)

    def get_results(self) -> dict[str, Any]:
        return request_id_for_faults() if self.observe else {}

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        if self.masking is not None:
            yield from self.masking.on_stream_result(result)
        else:
            yield
