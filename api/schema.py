"""Wires the root types and the limits every request is held to."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from api import unavailable
from api.carts.queries import CartQueries
from api.customers.mutations import CustomerMutations
from api.customers.queries import CustomerQueries
from api.events.mutations import EventMutations
from api.inputs import compile_inputs
from api.lean_fields import LeanExecutionContext
from api.orders.mutations import OrderMutations, ReturnMutations
from api.prepared import PreparedSchema
from api.rules.mutations import RulesMutations
from api.rules.queries import RulesQueries
from api.scalars import DECIMAL
from app.settings import Settings

Query = merge_types("Query", (CustomerQueries, RulesQueries, CartQueries))
Mutation = merge_types("Mutation", (CustomerMutations, OrderMutations, ReturnMutations, RulesMutations, EventMutations))

# Bounded: the caches are keyed by query text, which any client chooses.
DOCUMENT_CACHE_SIZE = 512


def _is_internal(error: GraphQLError) -> bool:
    """Mask what the server did wrong, never what the client did wrong; a database out of
    reach is not masked but answered as such (api/unavailable.py)."""
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, GraphQLError | PermissionError)
        and not unavailable.database_unavailable(error)
    )


def _mask(errors: list[GraphQLError]) -> list[GraphQLError]:
    """What MaskErrors(should_mask_error=_is_internal) does to a result's errors."""
    masker = MaskErrors()
    return [masker.anonymise_error(error) if _is_internal(error) else error for error in errors]


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limiters build new rule classes in every constructor, and ValidationCache keys
    # on the rule classes: built per request, they made every validation a miss (a third
    # of recordOrder's CPU, measured). So the rules are built once, here, and each
    # request's extension (strawberry wants factories, not shared instances) reuses them.
    limits = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if settings.production:
        limits += DisableIntrospection().validation_rules
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(ParserCache, maxsize=DOCUMENT_CACHE_SIZE),
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(AddValidationRules, limits),
        partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
    ]
    if settings.production:
        extensions.append(partial(MaskErrors, should_mask_error=_is_internal))
    schema = PreparedSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        execution_context_class=LeanExecutionContext,
        config=StrawberryConfig(disable_field_suggestions=settings.production, scalar_map={Decimal: DECIMAL}),
    )
    schema.prepare(
        limits=limits,
        max_tokens=settings.max_tokens,
        maxsize=DOCUMENT_CACHE_SIZE,
        mask=_mask if settings.production else None,
    )
    compile_inputs(schema)
    return schema


def export_sdl() -> str:
    return build_schema(Settings.from_env({})).as_str() + "\n"
