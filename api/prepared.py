"""Every query text is parsed and validated once, inside strawberry's pipeline.

One schema extension holds every limit a query text is held to (its size, its tokens,
directives per field, depth, aliases, introspection in production, errors per answer)
and the cache of what checking a text gave. It is strawberry's ParserCache and
ValidationCache pattern (set the document in `on_parse`, the errors in `on_validate`,
and the pipeline skips its own parse and validation), so every other extension's hooks
run on every request as strawberry runs them; what is saved is the parse and validation,
and the four extensions (with their hooks) that held the limits before.

The cache is bounded by entries and by the total size of the texts it keeps: its keys
are texts any client chooses. A text over the size limit is refused before it is
parsed, and never kept. A text that failed is kept with its errors, so sending it again
costs a look-up, not a parse.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
    validate,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry import Schema
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionResult

from api.error_codes import TopLevelCode


@dataclass(frozen=True)
class Checked:
    """A parsed text's document, and what validating it found (empty: it may run)."""

    document: DocumentNode
    errors: list[GraphQLError]


class CheckedTexts:
    """Query texts and what checking them gave; least recently used out first, bounded
    by count and by the total length of the texts kept."""

    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Checked] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, query: str) -> Checked | None:
        checked = self._entries.get(query)
        if checked is not None:
            self._entries.move_to_end(query)
        return checked

    def put(self, query: str, checked: Checked) -> None:
        size = len(query)
        if size > self.max_bytes or query in self._entries:
            return
        self._entries[query] = checked
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            oldest, _ = self._entries.popitem(last=False)
            self.bytes -= len(oldest)


def max_directives_rule(limit: int) -> type[ASTValidationRule]:
    class MaxDirectivesPerField(ASTValidationRule):
        def enter_field(self, node: FieldNode, *_args: object) -> None:
            if node.directives and len(node.directives) > limit:
                self.report_error(
                    GraphQLError(
                        f"A field may carry at most {limit} directives; '{node.name.value}'"
                        f" carries {len(node.directives)}.",
                        node,
                    )
                )

    return MaxDirectivesPerField


@dataclass(frozen=True)
class Limits:
    max_query_bytes: int
    max_tokens: int
    max_errors: int
    max_directives: int
    rules: Sequence[type[ASTValidationRule]]
    """Beyond graphql-core's own: depth, aliases, introspection in production."""


class QueryTooLong(GraphQLError):
    pass


class QueryChecker:
    """Checks a text against the limits once, and remembers what it gave."""

    def __init__(self, schema: Callable[[], GraphQLSchema], limits: Limits, cache: CheckedTexts):
        self.schema = schema
        self.limits = limits
        self.cache = cache
        self.first_rules = (max_directives_rule(limits.max_directives),)
        # What strawberry validates with (graphql-core's rules, its own two), and the limits.
        self.rules = (*specified_rules, *limits.rules, MaybeNullValidationRule, OneOfInputValidationRule)

    def too_long(self, query: str) -> QueryTooLong | None:
        limit = self.limits.max_query_bytes
        # len() counts characters, each one to four bytes in UTF-8: encode only when unsure.
        if len(query) * 4 <= limit or (len(query) <= limit and len(query.encode("utf-8", "replace")) <= limit):
            return None
        return QueryTooLong(
            f"The query is longer than {limit} bytes; send a shorter one.",
            extensions={"code": TopLevelCode.GRAPHQL_VALIDATION_FAILED.value},
        )

    def check(self, query: str) -> Checked | None:
        """None when the text does not parse: strawberry's own parse then reports why."""
        checked = self.cache.get(query)
        if checked is None:
            try:
                document = parse(query, max_tokens=self.limits.max_tokens)
            except GraphQLError:
                return None
            checked = Checked(document, self.validate(document))
            self.cache.put(query, checked)
        return checked

    def validate(self, document: DocumentNode) -> list[GraphQLError]:
        schema = self.schema()
        # The directive count first, alone: with ten copies of one directive on a field,
        # graphql-core's own rules would report each copy.
        errors = validate(schema, document, self.first_rules, max_errors=self.limits.max_errors)
        if not errors:
            errors = validate(schema, document, self.rules, max_errors=self.limits.max_errors)
        return errors


class CheckedQueries(SchemaExtension):
    """Parse and validation from the checker, set as the operation starts: strawberry
    skips its own parse when the document is set, and its own validation when the
    validation errors are (as with its ParserCache and ValidationCache). One hook, not
    one per phase: strawberry wraps each hook of each extension in a context manager on
    every request, and that was most of what the pipeline cost (see bench/README.md).
    Every other extension's on_parse and on_validate still run, around a parse and
    validation already done. Must come first among the extensions (build_schema makes it
    so): a text over the size limit is refused by raising here, before any other
    extension has started, and strawberry answers the error."""

    def __init__(self, checker: QueryChecker):
        super().__init__()
        self.checker = checker

    def on_operation(self) -> Iterator[None]:
        self.check()
        yield

    def check(self) -> None:
        """Sets the document and its validation errors, or the parse's token limit."""
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            too_long = self.checker.too_long(query)
            if too_long is not None:
                raise too_long
            checked = self.checker.check(query)
            if checked is None:
                # Strawberry's parse reports the syntax error, held to the same token limit.
                context.parse_options["max_tokens"] = self.checker.limits.max_tokens
            else:
                context.graphql_document = checked.document
                context.pre_execution_errors = checked.errors


class MaskInternalErrors(MaskErrors):
    """Strawberry's MaskErrors, configured as given, whose check of every result is a
    runtime Protocol isinstance (a quarter of the pipeline's cost per request, measured
    by cProfile); plain results are masked here with its own `anonymise_error`, anything
    else (streams, incremental results) by MaskErrors itself."""

    def on_operation(self) -> Iterator[None]:
        masking = cast(Generator[None, None, None], super().on_operation())
        next(masking)
        yield
        result = self.execution_context.result
        if type(result) in _PLAIN_RESULTS:
            masking.close()
            if result.errors:  # type: ignore[union-attr]
                result.errors = [  # type: ignore[union-attr]
                    self.anonymise_error(e) if self.should_mask_error(e) else e
                    for e in result.errors  # type: ignore[union-attr]
                ]
        else:
            next(masking, None)


_PLAIN_RESULTS = (GraphQLExecutionResult, ExecutionResult)


def graphql_core_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema strawberry executes with. Strawberry has no public name
    for it (its own ParserCache and ValidationCache read `_schema` too);
    tests/unit/test_checked_queries.py fails if an upgrade moves it."""
    return schema._schema
