"""The one extension that parses, validates and caches answers as strawberry's own
extensions (ParserCache, MaxTokensLimiter, AddValidationRules, MaskErrors) would."""

from __future__ import annotations

import pytest
import strawberry
from graphql import GraphQLSchema, parse
from strawberry.asgi import GraphQL
from strawberry.extensions import AddValidationRules, MaskErrors, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.http import process_result

from api.error_codes import ErrorCodes
from api.json_posts import check_view
from api.prepared import Checked, CheckedTexts, graphql_core_schema
from api.schema import Mutation, Query, _is_internal, build_schema, limits, schema_config
from app.settings import Settings

LIMITS = {"LOYALTY_MAX_QUERY_DEPTH": "3", "LOYALTY_MAX_ALIASES": "2", "LOYALTY_MAX_TOKENS": "40"}

REQUESTS = [
    ("{ __typename }", None),
    ("query Two { __typename } query One { a: __typename }", "One"),
    ('{ customer(externalId: "x") { ledger { edges { node { points } } } } }', None),  # too deep
    ("{ a: __typename b: __typename c: __typename }", None),  # too many aliases
    ("{ " + "__typename " * 50 + "}", None),  # too many tokens
    ("{ __schema { queryType { name } } }", None),  # introspection: off in production
    ("{ rulesVersio { version } }", None),  # unknown field: a suggestion outside production
    ("{ __typename ", None),  # syntax error
    ("{ rulesVersion { version } }", None),  # fails inside: no services (an internal error)
    ("{ customer(externalId: 5) { email } }", None),  # wrong argument type
]


def _strawberrys_own(settings: Settings) -> strawberry.Schema:
    """The schema as strawberry's own extensions would hold it to the same limits."""
    extensions: list = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(list(limits(settings).rules)),
        ErrorCodes,
    ]
    if settings.production:
        extensions.append(lambda: MaskErrors(should_mask_error=_is_internal))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=schema_config(settings),
    )


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
@pytest.mark.parametrize(("query", "operation"), REQUESTS)
async def test_the_checked_path_answers_as_strawberrys_own_extensions_do(production, query, operation):
    settings = Settings.from_env({**LIMITS, **({"LOYALTY_ENV": "production"} if production else {})})
    checked = build_schema(settings)
    answers = [process_result(await checked.execute(query, operation_name=operation)) for _ in range(2)]
    own = process_result(await _strawberrys_own(settings).execute(query, operation_name=operation))
    assert answers[0] == answers[1] == own


def test_the_cache_is_bounded_by_count_and_by_bytes():
    document = parse("{ a }")
    by_count = CheckedTexts(max_entries=2, max_bytes=1000)
    for text in ("{ a }", "{ b }", "{ c }"):
        by_count.put(text, Checked(document, []))
    assert by_count.get("{ a }") is None and by_count.get("{ c }") is not None and len(by_count) == 2
    by_bytes = CheckedTexts(max_entries=100, max_bytes=25)
    for index in range(10):
        by_bytes.put("{ x" + str(index) + " }" + " " * 3, Checked(document, []))
    assert by_bytes.bytes <= 25 and len(by_bytes) == 2
    by_bytes.put("{ " + " " * 30 + "}", Checked(document, []))  # alone larger than the cache
    assert by_bytes.bytes <= 25 and len(by_bytes) == 2


async def test_an_oversized_text_is_never_kept():
    settings = Settings.from_env({"LOYALTY_MAX_QUERY_BYTES": "1000"})
    schema = build_schema(settings)
    checker = schema.extensions[0].args[0]  # type: ignore[union-attr]  # partial(CheckedQueries, checker)
    await schema.execute("{ __typename }")
    result = await schema.execute("{ __typename" + " " * 2000 + "}")
    assert result.errors and "longer than 1000 bytes" in result.errors[0].message
    assert len(checker.cache) == 1 and checker.cache.bytes == len("{ __typename }")


@pytest.mark.parametrize(
    "factory",
    [ParserCache, ValidationCache, lambda: MaxTokensLimiter(100), lambda: AddValidationRules([])],
    ids=["ParserCache", "ValidationCache", "MaxTokensLimiter", "AddValidationRules"],
)
def test_an_extension_whose_limits_would_never_apply_fails_at_start_up(factory):
    with pytest.raises(ValueError, match="cannot be added to the schema"):
        build_schema(Settings.from_env({}), [factory])


def test_a_view_overriding_a_step_the_json_post_path_skips_fails_at_start_up():
    class Custom(GraphQL):
        async def parse_http_body(self, request):  # type: ignore[no-untyped-def]
            return await super().parse_http_body(request)

    with pytest.raises(TypeError, match="overrides parse_http_body"):
        check_view(Custom)
    check_view(GraphQL)


def test_strawberrys_graphql_core_schema_is_where_we_read_it():
    """api.prepared reads strawberry's private `_schema`; an upgrade that moves it fails here."""
    schema = build_schema(Settings.from_env({}))
    core = graphql_core_schema(schema)
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None and core.query_type.name == "Query"
