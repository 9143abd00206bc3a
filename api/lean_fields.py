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

Plan = tuple[Callable[[Any, str], Any], str, Callable[[Any], Any], bool]

# Keyed by the GraphQLField's id, holding the field so the id stays its own.
_plans: dict[int, tuple[GraphQLField, Plan | None]] = {}


def plan(field_def: GraphQLField | None) -> Plan | None:
    """(strawberry's attribute reader, the attribute, the leaf type's serialize, whether
    null is allowed), or None when graphql-core's path must answer this field."""
    if field_def is None:
        return None
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
        and strawberry_field.base_resolver is None
        and not field_def.args
        and isinstance(leaf, GraphQLScalarType | GraphQLEnumType)
    ):
        # What StrawberryField.get_result does for a field without a resolver.
        found = (strawberry_field.default_resolver, strawberry_field.python_name, leaf.serialize, nullable)
    _plans[id(field_def)] = (field_def, found)
    return found


_REFUSED = object()


def _leaf(leaf: Plan, source: Any) -> Any:
    """The field's answer, or _REFUSED when graphql-core's path must give it."""
    read, name, serialize, nullable = leaf
    try:
        value = read(source, name)
        if value is None:
            return None if nullable else _REFUSED
        serialized = serialize(value)
    except Exception:  # noqa: BLE001  # graphql-core's path reports it
        return _REFUSED
    return _REFUSED if serialized is Undefined or serialized is None else serialized


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def _plain(self) -> bool:
        # Field middleware (a strawberry extension's resolve hook) must see every field.
        middleware = self.middleware_manager
        return middleware is None or not middleware.middlewares

    def execute_fields(  # type: ignore[override]  # same signature as graphql-core's
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """An object whose selected fields are all plain leaves is answered in one loop."""
        if self._plain():
            fields = parent_type.fields
            results: dict[str, Any] = {}
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                leaf = None if node.arguments else plan(fields.get(node.name.value))
                value = _REFUSED if leaf is None else _leaf(leaf, source_value)
                if value is _REFUSED:
                    break
                results[response_name] = value
            else:
                return results
        return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)

    def execute_field(  # type: ignore[override]  # same signature as graphql-core's
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """A plain leaf among other fields."""
        node = field_details_list[0].node
        leaf = None if node.arguments or not self._plain() else plan(parent_type.fields.get(node.name.value))
        if leaf is not None:
            value = _leaf(leaf, source)
            if value is not _REFUSED:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
