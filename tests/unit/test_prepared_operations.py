"""Prepared operations answer exactly as strawberry's extension pipeline does."""

from __future__ import annotations

import pytest
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from api.prepared import PreparedSchema
from api.schema import build_schema
from app.settings import Settings

LIMITS = {"LOYALTY_MAX_QUERY_DEPTH": "3", "LOYALTY_MAX_ALIASES": "2", "LOYALTY_MAX_TOKENS": "40"}

REQUESTS = [
    ("{ __typename }", None),
    ("query Two { __typename } query One { a: __typename }", "One"),
    ("query Two { __typename }", "Missing"),
    ('{ customer(externalId: "x") { ledger { edges { node { points } } } } }', None),  # too deep
    ("{ a: __typename b: __typename c: __typename }", None),  # too many aliases
    ("{ " + "__typename " * 50 + "}", None),  # too many tokens
    ("{ __schema { queryType { name } } }", None),  # introspection: off in production
    ("{ rulesVersio { version } }", None),  # unknown field: a suggestion outside production
    ("{ __typename ", None),  # syntax error
    ("{ rulesVersion { version } }", None),  # fails inside: no services (an internal error)
    ("{ customer(externalId: 5) { email } }", None),  # wrong argument type
]


async def _answer(schema: PreparedSchema, query: str, operation: str | None) -> object:
    """The response body, or the error the HTTP view turns into a 400."""
    try:
        return process_result(await schema.execute(query, operation_name=operation))
    except (CannotGetOperationTypeError, InvalidOperationTypeError) as error:
        return type(error), str(error)


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
@pytest.mark.parametrize(("query", "operation"), REQUESTS)
async def test_both_paths_give_the_same_answer(production: bool, query: str, operation: str | None):
    environ = {**LIMITS, **({"LOYALTY_ENV": "production"} if production else {})}
    schema = build_schema(Settings.from_env(environ))
    assert isinstance(schema, PreparedSchema)
    fast = [await _answer(schema, query, operation) for _ in range(2)]
    schema._prepared = None  # strawberry's pipeline only
    slow = await _answer(schema, query, operation)
    assert fast[0] == fast[1] == slow


async def test_internal_errors_are_masked_in_production_on_the_prepared_path():
    schema = build_schema(Settings.from_env({"LOYALTY_ENV": "production"}))
    result = await schema.execute("{ rulesVersion { version } }")
    assert result.errors and [e.message for e in result.errors] == ["Unexpected error."]
    assert isinstance(schema, PreparedSchema) and schema._prepared is not None
    seen, document = schema._prepared.get("{ rulesVersion { version } }")
    assert seen and document is not None


async def test_an_operation_type_the_transport_refuses_is_refused():
    schema = build_schema(Settings.from_env({}))
    query = "mutation { reloadRules { version } }"
    with pytest.raises(InvalidOperationTypeError):
        await schema.execute(query, allowed_operation_types=[OperationType.QUERY])


async def test_documents_that_fail_validation_are_never_run_and_not_prepared_again():
    schema = build_schema(Settings.from_env(LIMITS))
    too_deep = '{ customer(externalId: "x") { ledger { edges { node { points } } } } }'
    first = await schema.execute(too_deep)
    assert isinstance(schema, PreparedSchema) and schema._prepared is not None
    assert schema._prepared.get(too_deep) == (True, None)  # remembered as failed: no document to run
    again = await schema.execute(too_deep)
    assert first.errors and "exceeds maximum operation depth" in first.errors[0].message
    assert process_result(again) == process_result(first)


def test_the_cache_is_bounded():
    from graphql import parse

    from api.prepared import PreparedDocuments

    documents = PreparedDocuments(maxsize=2)
    for text in ("{ a }", "{ b }", "{ c }"):
        documents.put(text, parse(text))
    assert documents.get("{ a }") == (False, None) and documents.get("{ c }")[1] is not None
