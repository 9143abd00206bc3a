"""Input types converted by plans built once per schema, not by strawberry's generic walk.

Strawberry converts every argument on every request by inspecting its type afresh
(annotation resolution, name conversion, leaf checks at each level): for recordOrder's
input that was a tenth of the request's CPU, measured by py-spy. The values it receives
are already coerced by graphql-core (scalars parsed, defaults filled in), so what is
left is building the input classes. Each input type here gets a plan (per field: its
GraphQL name, Python name and how to convert it) and strawberry's documented
`from_input` hook runs that plan. A type with anything the plans don't cover (`Maybe`,
global ids, types that already build themselves) keeps strawberry's own conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

import strawberry
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    get_object_definition,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.lazy_type import LazyType

Convert = Callable[[Any], Any]


class _Unsupported(Exception):
    """A type the plans leave to strawberry."""


def _same(value: Any) -> Any:
    return value


def compile_inputs(schema: strawberry.Schema) -> int:
    """Installs a plan on every input type of `schema` that can have one; returns how many."""
    planner = _Planner(schema.schema_converter.scalar_registry, schema.config.name_converter.from_field)
    compiled = 0
    for concrete in list(schema.schema_converter.type_map.values()):
        definition = concrete.definition
        if not isinstance(definition, StrawberryObjectDefinition) or not definition.is_input:
            continue
        if definition.from_input is not None:
            continue
        try:
            planner.plan(definition.origin)
        except _Unsupported:
            continue
        compiled += 1
    for cls, plan in planner.plans.items():
        definition = get_object_definition(cls, strict=True)
        if definition.from_input is None:
            definition.from_input = _hook(plan)
    return compiled


def _hook(plan: Convert) -> Callable[[type, Mapping[str, Any], InputContext], Any]:
    def from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        return plan(value)

    return from_input


class _Planner:
    def __init__(self, registry: Mapping[object, Any], name_of: Callable[[Any], str]):
        self.registry = registry
        self.name_of = name_of
        self.plans: dict[type, Convert] = {}

    def plan(self, cls: type) -> Convert:
        if cls in self.plans:
            return self.plans[cls]
        definition = get_object_definition(cls, strict=True)
        if definition.from_input is not None:
            raise _Unsupported(cls)
        fields: list[tuple[str, str, Convert]] = []
        # Like strawberry: a nullable field with no default is None when left out.
        implicit = {
            field.python_name: None
            for field in definition.fields
            if field.default_value is MISSING and field.default_factory is MISSING
        }

        def plan(value: Mapping[str, Any]) -> Any:
            kwargs = dict(implicit)
            for graphql_name, python_name, convert in fields:
                if graphql_name in value:
                    kwargs[python_name] = convert(value[graphql_name])
            return cls(**kwargs)

        self.plans[cls] = plan  # before the fields: an input may contain itself
        try:
            for field in definition.fields:
                convert = self.converter(field.resolve_type(type_definition=definition))
                fields.append((self.name_of(field), field.python_name, convert))
        except _Unsupported:
            del self.plans[cls]
            raise
        return plan

    def converter(self, type_: Any) -> Convert:
        if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
            raise _Unsupported(type_)
        if isinstance(type_, LazyType):
            return self.converter(type_.resolve_type())
        if isinstance(type_, StrawberryOptional):
            inner = self.converter(type_.of_type)
            if inner is _same:
                return _same
            return lambda value: None if value is None else inner(value)
        if isinstance(type_, StrawberryList):
            item = self.converter(type_.of_type)
            # Always a new list: graphql-core hands every request the same default object.
            if item is _same:
                return lambda value: None if value is None else list(value)
            return lambda value: None if value is None else [item(x) for x in value]
        if is_scalar(type_, self.registry) or isinstance(type_, StrawberryEnumDefinition) or has_enum_definition(type_):
            return _same
        if has_object_definition(type_) and type_.__strawberry_definition__.is_input:
            plan = self.plan(type_)
            return lambda value: None if value is None else plan(value)
        raise _Unsupported(type_)
