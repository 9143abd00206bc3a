"""Wires the root types and the limits every request is held to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial

import strawberry
from graphql import GraphQLError, GraphQLSchema
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
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
from api.analytics.mutations import AnalyticsMutations
from api.analytics.queries import AnalyticsQueries
from api.carts.mutations import CartMutations
from api.carts.queries import CartQueries
from api.customers.mutations import CustomerMutations
from api.customers.queries import CustomerQueries
from api.events.mutations import EventMutations
from api.events.reward_events import RewardEventQueries, RewardEventSubscriptions
from api.events.webhooks import WebhookMutations, WebhookQueries
from api.feedback.mutations import FeedbackMutations
from api.inputs import compile_inputs
from api.orders.mutations import OrderMutations, ReturnMutations
from api.planned import PlannedExecutionContext
from api.prepared import (
    CheckedTexts,
    Limits,
    QueryChecker,
    graphql_core_schema,
)
from api.rewards.mutations import RewardMutations
from api.rewards.queries import RewardQueries
from api.rules.mutations import RulesMutations
from api.rules.queries import RulesQueries
from api.scalars import DECIMAL
from api.service_operations import ServiceOperations
from app.settings import Settings

Query = merge_types(
    "Query",
    (CustomerQueries, RulesQueries, CartQueries, RewardQueries, RewardEventQueries, WebhookQueries, AnalyticsQueries),
)
Mutation = merge_types(
    "Mutation",
    (
        CustomerMutations,
        OrderMutations,
        ReturnMutations,
        CartMutations,
        RulesMutations,
        EventMutations,
        RewardMutations,
        WebhookMutations,
        FeedbackMutations,
        AnalyticsMutations,
    ),
)
Subscription = merge_types("Subscription", (RewardEventSubscriptions,))

# Bounded: the cache is keyed by query text, which any client chooses.
DOCUMENT_CACHE_SIZE = 512

# Extensions that hold limits or cache documents themselves: CheckedQueries does both,
# and sets the validation errors, so their rules would silently never run.
_HELD_BY_CHECKED_QUERIES = (AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache)


def _is_internal(error: GraphQLError) -> bool:
    """Mask what the server did wrong, never what the client did wrong; a database out of
    reach is not masked but answered as such (api/unavailable.py)."""
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, GraphQLError | PermissionError)
        and not unavailable.database_unavailable(error)
    )


def limits(settings: Settings) -> Limits:
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if settings.production:
        rules += DisableIntrospection().validation_rules
    return Limits(
        max_query_bytes=settings.max_query_bytes,
        max_tokens=settings.max_tokens,
        max_errors=settings.max_errors,
        max_directives=settings.max_directives,
        rules=tuple(rules),
    )


def build_schema(
    settings: Settings,
    extra_extensions: Sequence[Callable[[], SchemaExtension]] = (),
    *,
    observe_operations: bool = False,
) -> strawberry.Schema:
    """The schema, with every limit configured here once (in ServiceOperations) and the
    masking of internal errors in production; `extra_extensions` run after them.
    `observe_operations`: the request's record gets the operation, caller and errors
    (api/operations_observed.py), before the masking hides what failed."""
    schema: strawberry.Schema | None = None

    def graphql_schema() -> GraphQLSchema:
        assert schema is not None
        return graphql_core_schema(schema)

    checker = QueryChecker(
        graphql_schema, limits(settings), CheckedTexts(DOCUMENT_CACHE_SIZE, settings.document_cache_bytes)
    )
    # The check, the observation, the masking (production) and the codes (after masking, so masked errors
    # get one): one extension, one hook per request (api.prepared.ServiceOperations).
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(ServiceOperations, checker, _is_internal if settings.production else None, observe_operations),
        *extra_extensions,
    ]
    _check_extensions(extensions)
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=PlannedExecutionContext,
        config=schema_config(settings),
    )
    compile_inputs(schema)
    return schema


def schema_config(settings: Settings) -> StrawberryConfig:
    return StrawberryConfig(disable_field_suggestions=settings.production, scalar_map={Decimal: DECIMAL})


def _check_extensions(extensions: Sequence[Callable[[], SchemaExtension]]) -> None:
    """Start-up fails on an extension the checked path would silently not honour."""
    for factory in extensions[1:]:
        extension = factory()
        if isinstance(extension, _HELD_BY_CHECKED_QUERIES):
            raise ValueError(
                f"{type(extension).__name__} cannot be added to the schema: its limits or cache would"
                " never apply, because api.prepared.CheckedQueries parses and validates every query"
                " (it must be the first extension). Add validation rules to api.schema.limits() instead."
            )


def export_sdl() -> str:
    return build_schema(Settings.from_env({})).as_str() + "\n"
