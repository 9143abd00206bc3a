"""A validated operation's whole selection tree, planned once and answered in one walk.

graphql-core executes an operation field by field: for each it looks the field up, builds
a path, a resolve-info object and an argument dict, calls the resolver, then completes
the value by its type, collecting the sub-selection again for every object. For a `me`
with a ledger page that machinery (around the resolvers, not in them) was about a third
of the request's CPU, after api/lean_fields.py had already answered the plain leaves.

Here the operation's fields are planned once per checked document (the document is
kept by api/prepared.py, so its identity is stable): for each field, what it is (a plain
attribute leaf, a plain attribute object or list of objects, a resolver with its
arguments already coerced when they name no variable, `__typename`), its sub-plan, and
how its value completes. The walk then reads attributes and calls resolvers with
graphql-core's own resolve-info (so strawberry's resolvers, permission classes and field
extensions run as they always do) and graphql-core's own error handling
(`handle_field_error`: located errors, nulls propagated to the nearest nullable field).

Anything unusual goes to graphql-core, exactly where lean_fields does: an operation with
directives, fragment variables or an abort signal, a subscription, and whenever an
extension hooks field resolution (strawberry's field middleware must see every field) is
executed by graphql-core whole; an abstract type, introspection, or a value that is not
what the plan expects (a null in a non-null field, a value the scalar refuses, an object
of another type) is answered by graphql-core's path for that field alone.
tests/unit/test_planned.py compares both paths, errors included.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel

from api.lean_fields import LeanExecutionContext, object_plan, plan, strawberry_object_shape

# Field kinds, and how a resolver's value completes.
_LEAF, _OBJECT, _RESOLVE, _TYPENAME, _GENERAL = range(5)
_ONE, _MANY, _COMPLETE = range(3)

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_IMMUTABLE = (str, int, float, bool, type(None), Enum)
_REFUSED = object()

# Plans per (schema, document, operation name), bounded like the documents they are for.
MAX_PLANS = 512
_operation_plans: OrderedDict[tuple[int, int], tuple[GraphQLSchema, OperationDefinitionNode, Any]] = OrderedDict()


class FieldPlan:
    __slots__ = (
        "args",
        "attr",
        "completion",
        "field_def",
        "field_details_list",
        "field_nodes",
        "is_type_of",
        "items_nullable",
        "kind",
        "memo",
        "name",
        "nullable",
        "object_type",
        "read",
        "resolve",
        "return_type",
        "serialize",
        "shortcut",
        "sub",
    )

    def __init__(self, name: str, kind: int, field_details_list: Any, field_def: GraphQLField | None):
        self.name = name
        self.kind = kind
        self.field_details_list = field_details_list
        self.field_nodes = [details.node for details in field_details_list]
        self.field_def = field_def
        self.return_type = field_def.type if field_def is not None else None
        self.read: Callable[[Any, str], Any] | None = None
        self.attr = ""
        self.serialize: Callable[[Any], Any] | None = None
        self.shortcut: type | None = None
        self.memo: dict[Any, Any] | None = None
        self.nullable = True
        self.items_nullable: bool | None = None
        self.object_type: GraphQLObjectType | None = None
        self.is_type_of: Callable[[Any, Any], Any] | None = None
        self.sub: ObjectPlan | None = None
        self.resolve: Callable[..., Any] | None = None
        self.args: dict[str, Any] | None = None
        self.completion = _COMPLETE


class ObjectPlan:
    __slots__ = ("fields", "parent_type")

    def __init__(self, parent_type: GraphQLObjectType, fields: list[FieldPlan]):
        self.parent_type = parent_type
        self.fields = fields


def _has_directives(selection_set: SelectionSetNode | None) -> bool:
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        if selection.directives:
            return True
        if isinstance(selection, FieldNode | InlineFragmentNode) and _has_directives(selection.selection_set):
            return True
    return False


def _names_variables(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_names_variables(v) for v in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_names_variables(f.value) for f in value.fields)
    return False


def _leaf_shortcut(serialize: Callable[[Any], Any]) -> type | None:
    """The Python type that graphql-core's own serializer returns unchanged (an int only
    within its range): values of exactly that type skip the call."""
    if serialize is GraphQLString.serialize:
        return str
    if serialize is GraphQLInt.serialize:
        return int
    if serialize is GraphQLBoolean.serialize:
        return bool
    return None


class PlannedExecutionContext(LeanExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:  # type: ignore[override]
        operation_plan = self._operation_plan() if serially is None else None
        if operation_plan is None:
            return super().execute_operation(serially)
        try:
            if self.operation.operation == OperationType.MUTATION:
                data: Any = self._serially(operation_plan, self.root_value)
            else:
                data = self._object(operation_plan, self.root_value, None)
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.build_response(None)
        if self.is_awaitable(data):
            return self._await_response(data)
        return self.build_response(data)

    async def _await_response(self, data: Awaitable[dict[str, Any]]) -> Any:
        try:
            return self.build_response(await data)
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.build_response(None)

    # -- planning ------------------------------------------------------------------------

    def _operation_plan(self) -> ObjectPlan | None:
        if not self._plain() or self.abort_signal is not None:
            return None
        operation = self.operation
        if operation.operation not in (OperationType.QUERY, OperationType.MUTATION):
            return None
        # The operation's node lives as long as its checked document (api/prepared.py),
        # and is kept here with its plan, so its id stays its own.
        key = (id(self.schema), id(operation))
        known = _operation_plans.get(key)
        if known is not None and known[0] is self.schema and known[1] is operation:
            _operation_plans.move_to_end(key)
            return known[2]  # type: ignore[no-any-return]
        found = self._plan_operation(operation)
        _operation_plans[key] = (self.schema, operation, found)
        while len(_operation_plans) > MAX_PLANS:
            _operation_plans.popitem(last=False)
        return found

    def _plan_operation(self, operation: OperationDefinitionNode) -> ObjectPlan | None:
        if operation.directives or _has_directives(operation.selection_set):
            return None
        for fragment in self.fragment_definitions.values():
            if fragment.directives or _has_directives(fragment.selection_set):
                return None
        if any(details.variable_signatures for details in self.fragments.values()):
            return None
        root_type = self.schema.get_root_type(operation.operation)
        if root_type is None:
            return None
        grouped_field_set, defer_usages, _ = collect_fields(
            self.schema, self.fragments, self.variable_values, root_type, operation, self.hide_suggestions
        )
        if defer_usages:
            return None
        return self._plan_object(root_type, grouped_field_set)

    def _plan_object(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> ObjectPlan:
        fields = [
            self._plan_field(parent_type, name, field_details_list)
            for name, field_details_list in grouped_field_set.items()
        ]
        return ObjectPlan(parent_type, fields)

    def _plan_field(self, parent_type: GraphQLObjectType, name: str, field_details_list: Any) -> FieldPlan:
        node = field_details_list[0].node
        field_name = node.name.value
        if field_name == "__typename":
            return FieldPlan(name, _TYPENAME, field_details_list, None)
        field_def = parent_type.fields.get(field_name)
        general = FieldPlan(name, _GENERAL, field_details_list, field_def)
        if field_def is None or any(d.fragment_variable_values is not None for d in field_details_list):
            return general
        if not node.arguments:
            leaf = plan(field_def)
            if leaf is not None:
                found = FieldPlan(name, _LEAF, field_details_list, field_def)
                found.read, found.attr, found.serialize, found.nullable = leaf
                found.shortcut = _leaf_shortcut(found.serialize)
                if isinstance(found.return_type, GraphQLEnumType) or isinstance(
                    getattr(found.return_type, "of_type", None), GraphQLEnumType
                ):
                    found.memo = {}
                return found
            nested = object_plan(field_def)
            if nested is not None:
                found = FieldPlan(name, _OBJECT, field_details_list, field_def)
                read, found.attr, found.nullable, items, object_type, found.is_type_of = nested
                found.read = read
                found.items_nullable = None if items is None else items[0]
                found.completion = _ONE if items is None else _MANY
                found.object_type = object_type
                found.sub = self._plan_sub(object_type, field_details_list)
                return found
        found = FieldPlan(name, _RESOLVE, field_details_list, field_def)
        found.resolve = field_def.resolve or self.field_resolver
        found.args = self._static_arguments(field_def, node)
        self._plan_completion(found)
        return found

    def _plan_sub(self, object_type: GraphQLObjectType, field_details_list: Any) -> ObjectPlan:
        grouped_field_set, _, _ = self.collect_subfields(object_type, field_details_list)
        return self._plan_object(object_type, grouped_field_set)

    def _static_arguments(self, field_def: GraphQLField, node: FieldNode) -> dict[str, Any] | None:
        """The coerced arguments when they name no variable (and are immutable, so one dict
        serves every request); None: coerced per request."""
        if not field_def.args and not node.arguments:
            return {}
        if any(_names_variables(argument.value) for argument in node.arguments or ()):
            return None
        try:
            args = get_argument_values(field_def, node, self.variable_values, None, self.hide_suggestions)
        except GraphQLError:
            return None
        return args if all(isinstance(v, _IMMUTABLE) for v in args.values()) else None

    def _plan_completion(self, found: FieldPlan) -> None:
        """How a resolver's value completes: one object or a list of objects of a type
        strawberry defined (planned), anything else by graphql-core's completion."""
        found.nullable = not isinstance(found.return_type, GraphQLNonNull)
        shape = strawberry_object_shape(found.return_type)
        if shape is None:
            return
        _, items, inner = shape
        found.object_type = inner
        found.is_type_of = inner.is_type_of
        found.items_nullable = items
        found.completion = _ONE if items is None else _MANY
        found.sub = self._plan_sub(inner, found.field_details_list)

    # -- the walk ------------------------------------------------------------------------

    def _object(self, object_plan: ObjectPlan, source: Any, path: Path | None) -> Any:
        """The object's answer, or an awaitable of it; raises what a non-null field raised."""
        results: dict[str, Any] = {}
        awaiting: list[str] | None = None
        is_awaitable = self.is_awaitable
        parent_type = object_plan.parent_type
        try:
            for field in object_plan.fields:
                kind = field.kind
                if kind == _LEAF:
                    value = _leaf(field, source)
                    if value is _REFUSED:
                        value = self._general(field, parent_type, source, path)
                    else:
                        results[field.name] = value
                        continue
                elif kind == _RESOLVE:
                    value = self._resolve(field, parent_type, source, path)
                elif kind == _OBJECT:
                    value = self._attribute_object(field, parent_type, source, path)
                elif kind == _TYPENAME:
                    results[field.name] = parent_type.name
                    continue
                else:
                    value = self._general(field, parent_type, source, path)
                results[field.name] = value
                if is_awaitable(value):
                    if awaiting is None:
                        awaiting = []
                    awaiting.append(field.name)
        except Exception:
            if awaiting:
                self.settle_in_background([results[name] for name in awaiting])
            raise
        if not awaiting:
            return results
        return self._gather(results, awaiting)

    async def _gather(self, results: dict[str, Any], awaiting: list[str]) -> dict[str, Any]:
        if len(awaiting) == 1:
            results[awaiting[0]] = await results[awaiting[0]]
        else:
            values = await gather_with_cancel(*(results[name] for name in awaiting))
            results.update(zip(awaiting, values, strict=True))
        return results

    async def _serially(self, object_plan: ObjectPlan, source: Any) -> dict[str, Any]:
        """A mutation's root fields, each done before the next starts."""
        results: dict[str, Any] = {}
        for field in object_plan.fields:
            single = ObjectPlan(object_plan.parent_type, [field])
            answer = self._object(single, source, None)
            if self.is_awaitable(answer):
                answer = await answer
            results.update(answer)
        return results

    def _general(self, field: FieldPlan, parent_type: GraphQLObjectType, source: Any, path: Path | None) -> Any:
        """graphql-core's path for this one field (lean_fields' where it can)."""
        return self.execute_field(
            parent_type, source, field.field_details_list, Path(path, field.name, parent_type.name), None
        )

    def _attribute_object(
        self, field: FieldPlan, parent_type: GraphQLObjectType, source: Any, path: Path | None
    ) -> Any:
        assert field.read is not None
        try:
            value = field.read(source, field.attr)
        except Exception:  # noqa: BLE001  # graphql-core's path reports it
            return self._general(field, parent_type, source, path)
        if value is None:
            return None if field.nullable else self._general(field, parent_type, source, path)
        if not self._fits(field, value):
            return self._general(field, parent_type, source, path)
        field_path = Path(path, field.name, parent_type.name)
        try:
            return self._completed(field, field_path, value)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.return_type, field.field_details_list, field_path)  # type: ignore[arg-type]
            return None

    def _fits(self, field: FieldPlan, value: Any) -> bool:
        """Whether the walk may complete this (non-null) value: the object, or every item
        of the list, of the planned type; checked before any of it is walked, so that a
        value that does not fit goes to graphql-core before any resolver below has run."""
        is_type_of = field.is_type_of
        if field.completion == _ONE:
            return is_type_of is None or _is(is_type_of, value)
        if not isinstance(value, list | tuple):
            return False
        for item in value:
            if item is None:
                if not field.items_nullable:
                    return False
            elif is_type_of is not None and not _is(is_type_of, item):
                return False
        return True

    def _completed(self, field: FieldPlan, path: Path, value: Any) -> Any:
        """A fitting non-null object or list of objects, answered by the sub-plan."""
        sub = field.sub
        assert sub is not None
        if field.completion == _ONE:
            return self._object(sub, value, path)
        answers: list[Any] = []
        awaiting: list[int] | None = None
        is_awaitable = self.is_awaitable
        item_type = field.return_type.of_type if isinstance(field.return_type, GraphQLNonNull) else field.return_type
        item_type = item_type.of_type  # type: ignore[union-attr]
        for index, item in enumerate(value):
            if item is None:
                answers.append(None)
                continue
            item_path = Path(path, index, None)
            try:
                answer = self._object(sub, item, item_path)
            except Exception as raw_error:
                if awaiting:
                    self.settle_in_background([answers[i] for i in awaiting])
                self.handle_field_error(raw_error, item_type, field.field_details_list, item_path)
                answer = None
            if is_awaitable(answer):
                answer = self._awaited_item(answer, item_type, field, item_path)
                if awaiting is None:
                    awaiting = []
                awaiting.append(index)
            answers.append(answer)
        if not awaiting:
            return answers
        return self._gather_items(answers, awaiting)

    async def _awaited_item(self, answer: Awaitable[Any], item_type: Any, field: FieldPlan, path: Path) -> Any:
        try:
            return await answer
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, field.field_details_list, path)
            return None

    async def _gather_items(self, answers: list[Any], awaiting: list[int]) -> list[Any]:
        values = await gather_with_cancel(*(answers[i] for i in awaiting))
        for index, value in zip(awaiting, values, strict=True):
            answers[index] = value
        return answers

    def _resolve(self, field: FieldPlan, parent_type: GraphQLObjectType, source: Any, path: Path | None) -> Any:
        field_path = Path(path, field.name, parent_type.name)
        field_def = field.field_def
        assert field_def is not None and field.resolve is not None
        info = self.build_resolve_info(field_def, field.field_nodes, parent_type, field_path)
        try:
            args = field.args
            if args is None:
                details = field.field_details_list[0]
                args = get_argument_values(field_def, details.node, self.variable_values, None, self.hide_suggestions)
            result = field.resolve(source, info, **args)
            if self.is_awaitable(result):
                return self._resolved_later(field, info, field_path, result)
            completed = self._complete(field, info, field_path, result)
            if self.is_awaitable(completed):
                return self._completed_later(field, field_path, completed)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.return_type, field.field_details_list, field_path)  # type: ignore[arg-type]
            return None
        return completed

    def _complete(self, field: FieldPlan, info: Any, path: Path, result: Any) -> Any:
        if isinstance(result, Exception):
            raise result
        if field.completion == _COMPLETE or result is None or not self._fits(field, result):
            # graphql-core's completion: leaves, abstract types, nulls, and what does not fit.
            return self.complete_value(field.return_type, field.field_details_list, info, path, result, None)  # type: ignore[arg-type]
        return self._completed(field, path, result)

    async def _resolved_later(self, field: FieldPlan, info: Any, path: Path, result: Awaitable[Any]) -> Any:
        try:
            completed = self._complete(field, info, path, await result)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.return_type, field.field_details_list, path)  # type: ignore[arg-type]
            return None
        return completed

    async def _completed_later(self, field: FieldPlan, path: Path, completed: Awaitable[Any]) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.return_type, field.field_details_list, path)  # type: ignore[arg-type]
            return None


def _leaf(field: FieldPlan, source: Any) -> Any:
    """The leaf's answer, or _REFUSED when graphql-core's path must give it."""
    value: Any
    try:
        value = field.read(source, field.attr)  # type: ignore[misc]
    except Exception:  # noqa: BLE001  # graphql-core's path reports it
        return _REFUSED
    if value is None:
        return None if field.nullable else _REFUSED
    shortcut = field.shortcut
    if shortcut is not None and type(value) is shortcut:
        if shortcut is not int or _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
            return value
    memo = field.memo
    if memo is not None and isinstance(value, Enum):
        # An enum's members serialize to their names, the same for every request.
        known = memo.get(value)
        if known is not None:
            return known
    try:
        serialized = field.serialize(value)  # type: ignore[misc]
    except Exception:  # noqa: BLE001
        return _REFUSED
    if serialized is Undefined or serialized is None:
        return _REFUSED
    if memo is not None and isinstance(value, Enum):
        memo[value] = serialized
    return serialized


def _is(is_type_of: Callable[[Any, Any], Any], value: Any) -> bool:
    try:
        return is_type_of(value, None) is True
    except Exception:  # noqa: BLE001  # graphql-core's path reports it
        return False
