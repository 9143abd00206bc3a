"""Leaf fields that only read an attribute are answered without graphql-core's per-field
machinery.

A `me` or `customer` with a ledger page of 20 entries resolves about 200 fields, nearly
all of them plain attributes (`points`, `reason`, `cursor`, ...). graphql-core gives each
one a path, a resolve-info object, strawberry's resolver wrapper and a completion step:
two thirds of the request's CPU, measured with cProfile under bench/bench_reads.py. For a
field that strawberry itself calls "basic" (no resolver, no extensions), without
arguments, whose type is a scalar or enum, this context reads the attribute the way
strawberry's resolver does and serializes it the way graphql-core's completion does.
Anything else (every field, when an extension hooks field resolution), and anything
unusual on the way (a null in a non-null field, a value the scalar refuses), goes to
graphql-core's own path, which answers it exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLEnumType, GraphQLField, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

Plan = tuple[StrawberryField, Callable[[Any], Any], bool]

# Keyed by the GraphQLField's id, holding the field so the id stays its own.
_plans: dict[int, tuple[GraphQLField, Plan | None]] = {}


def plan(field_def: GraphQLField) -> Plan | None:
    """(the strawberry field, the leaf type's serialize, whether null is allowed), or None
    when graphql-core's path must answer this field."""
    known = _plans.get(id(field_def))
    if known is not None and known[0] is field_def:
        return known[1]
    found: Plan | None = None
    strawberry_field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return_type = field_def.type
    nullable = not isinstance(return_type, GraphQLNonNull)
    leaf = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if (
        isinstance(strawberry_field, StrawberryField)
        and strawberry_field.is_basic_field
        and not field_def.args
        and isinstance(leaf, GraphQLScalarType | GraphQLEnumType)
    ):
        found = (strawberry_field, leaf.serialize, nullable)
    _plans[id(field_def)] = (field_def, found)
    return found


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_field(  # type: ignore[override]  # same signature as graphql-core's
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        field_def = parent_type.fields.get(node.name.value)
        # Field middleware (a strawberry extension's resolve hook) must see every field.
        middleware = self.middleware_manager
        plain = middleware is None or not middleware.middlewares
        leaf = plan(field_def) if field_def is not None and plain else None
        if leaf is not None:
            strawberry_field, serialize, nullable = leaf
            try:
                value = strawberry_field.get_result(source, None, [], {})
                if value is None:
                    if nullable:
                        return None
                else:
                    serialized = serialize(value)
                    if serialized is not Undefined and serialized is not None:
                        return serialized
            except Exception:  # noqa: BLE001, S110  # graphql-core's path reports it, below
                pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
