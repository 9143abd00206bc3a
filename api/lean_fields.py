"""Leaf fields that only read an attribute are answered without graphql-core's per-field
machinery.

A `me` or `customer` with a ledger page of 20 entries resolves about 200 fields, nearly
all of them plain attributes (`points`, `reason`, `cursor`, ...). graphql-core gives each
one a path, a resolve-info object, strawberry's resolver wrapper and a completion step:
two thirds of the request's CPU, measured with cProfile under bench/bench_reads.py. For a
field that strawberry itself calls "basic" (no resolver, no extensions), without
arguments, whose type is a scalar or enum, this context reads the attribute the way
strawberry's resolver does and serializes it the way graphql-core's completion does.
The same holds one level up: a basic field whose type is an object type, or a list of
one (a connection's `edges`, an edge's `node`, `pageInfo`), is read the same way and its
selection answered in the same walk, once graphql-core has collected it (memoized per
selection, so once per list). Before this, graphql-core completing the 20 edges' objects
was about half of a `me` request's CPU (cProfile); strawberry's own type check (an
isinstance test for a type with interfaces) is kept, a type's own `is_type_of` is not
second-guessed (graphql-core's path), nor is any directive on such a field.

Anything else (every field, when an extension hooks field resolution), and anything
unusual on the way (a null in a non-null field, a value the scalar refuses, an object
of the wrong type), goes to graphql-core's own path for the whole object, which answers
it exactly as before (tests/unit/test_lean_fields.py compares both paths).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from inspect import isawaitable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfoHelpers,
    GraphQLScalarType,
)
from graphql.pyutils import Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
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


# (strawberry's attribute reader, the attribute, null allowed, None for one object or
# (null items allowed,) for a list of them, the object type, its type check or None)
ObjectPlan = tuple[
    Callable[[Any, str], Any],
    str,
    bool,
    tuple[bool] | None,
    GraphQLObjectType,
    Callable[[Any, Any], Any] | None,
]
_object_plans: dict[int, tuple[GraphQLField, ObjectPlan | None]] = {}


def strawberry_object_shape(return_type: Any) -> tuple[bool, bool | None, GraphQLObjectType] | None:
    """(null allowed, whether a list's items may be null or None for one object, the object
    type) when a field's type is an object type strawberry defined without an `is_type_of`
    of its own, or a list of one; None otherwise: graphql-core's completion then answers
    (a type's own `is_type_of` may read the resolve info)."""
    nullable = not isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    items: bool | None = None
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        items = not isinstance(item, GraphQLNonNull)
        inner = item.of_type if isinstance(item, GraphQLNonNull) else item
    if not isinstance(inner, GraphQLObjectType):
        return None
    definition = inner.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryObjectDefinition) or definition.is_type_of is not None:
        return None
    return nullable, items, inner


def object_plan(field_def: GraphQLField | None) -> ObjectPlan | None:
    """For a basic field (no resolver, no arguments) whose type is an object type or a
    list of one: how to read it; None when graphql-core's path must answer it. A type
    check (`is_type_of`) is kept only when strawberry made it (an isinstance test that
    reads nothing of the resolve info); a type's own `is_type_of` takes the general path."""
    if field_def is None:
        return None
    known = _object_plans.get(id(field_def))
    if known is not None and known[0] is field_def:
        return known[1]
    found: ObjectPlan | None = None
    strawberry_field = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    shape = strawberry_object_shape(field_def.type)
    if (
        shape is not None
        and isinstance(strawberry_field, StrawberryField)
        and strawberry_field.is_basic_field
        and strawberry_field.base_resolver is None
        and not field_def.args
    ):
        nullable, items, inner = shape
        found = (
            strawberry_field.default_resolver,
            strawberry_field.python_name,
            nullable,
            None if items is None else (items,),
            inner,
            inner.is_type_of,
        )
    _object_plans[id(field_def)] = (field_def, found)
    return found


def _track_after_response(values: Sequence[Any]) -> None:
    """Work tracked once the answer is built is still settled, its errors observed."""
    awaitables = [value for value in values if isawaitable(value)]
    if awaitables:
        future = asyncio.gather(*awaitables, return_exceptions=True)
        _settling.add(future)
        future.add_done_callback(_settling.discard)


_settling: set[asyncio.Future[Any]] = set()
_AFTER_RESPONSE = GraphQLResolveInfoHelpers(
    gather=lambda values: gather_with_cancel(*values), track=_track_after_response
)


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def build_response(self, data: dict[str, Any] | None) -> Any:
        try:
            return super().build_response(data)
        finally:
            # graphql-core's helpers are bound methods of this context: a reference cycle,
            # so the whole request (context, answer, the resolvers' objects) was freed only
            # by the garbage collector, about 70 requests at a time in a young collection of
            # several ms that the requests in flight waited for (their p99). Without the
            # cycle, reference counting frees each request as it ends. Resolvers that are
            # still running keep the helpers their info holds.
            self.async_helpers = _AFTER_RESPONSE

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
        """An object whose selected fields are all plain leaves, or plain objects (and lists
        of them) made of such fields, is answered in one walk."""
        if self._plain():
            results = self._lean_fields(parent_type, source_value, grouped_field_set)
            if results is not _REFUSED:
                return results
        return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)

    def _lean_fields(self, parent_type: GraphQLObjectType, source: Any, grouped_field_set: Any) -> Any:
        fields = parent_type.fields
        results: dict[str, Any] = {}
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            if node.arguments:
                return _REFUSED
            field_def = fields.get(node.name.value)
            leaf = plan(field_def)
            if leaf is not None:
                value = _leaf(leaf, source)
            else:
                nested = object_plan(field_def)
                value = _REFUSED if nested is None else self._lean_object(nested, source, field_details_list)
            if value is _REFUSED:
                return _REFUSED
            results[response_name] = value
        return results

    def _lean_object(self, nested: ObjectPlan, source: Any, field_details_list: Any) -> Any:
        read, name, nullable, items, object_type, is_type_of = nested
        try:
            value = read(source, name)
        except Exception:  # noqa: BLE001  # graphql-core's path reports it
            return _REFUSED
        if value is None:
            return None if nullable else _REFUSED
        if any(details.node.directives for details in field_details_list):
            return _REFUSED  # @stream, @defer and the like are graphql-core's to honour
        # Memoized by graphql-core per type and selection: once per list, not per item.
        grouped_field_set, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            return _REFUSED
        if items is None:
            return self._lean_item(object_type, is_type_of, value, grouped_field_set)
        if not isinstance(value, list | tuple):
            return _REFUSED
        answers: list[Any] = []
        for item in value:
            if item is None:
                if not items[0]:
                    return _REFUSED
                answers.append(None)
                continue
            answer = self._lean_item(object_type, is_type_of, item, grouped_field_set)
            if answer is _REFUSED:
                return _REFUSED
            answers.append(answer)
        return answers

    def _lean_item(self, object_type: GraphQLObjectType, is_type_of: Any, value: Any, grouped_field_set: Any) -> Any:
        if is_type_of is not None:
            try:
                if is_type_of(value, None) is not True:
                    return _REFUSED
            except Exception:  # noqa: BLE001  # graphql-core's path reports it
                return _REFUSED
        return self._lean_fields(object_type, value, grouped_field_set)

    def execute_field(  # type: ignore[override]  # same signature as graphql-core's
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """A plain leaf, or a plain object of them, among other fields."""
        node = field_details_list[0].node
        if not node.arguments and self._plain():
            field_def = parent_type.fields.get(node.name.value)
            leaf = plan(field_def)
            if leaf is not None:
                value = _leaf(leaf, source)
            else:
                nested = object_plan(field_def)
                value = _REFUSED if nested is None else self._lean_object(nested, source, field_details_list)
            if value is not _REFUSED:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
