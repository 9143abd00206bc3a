"""Compiled input plans build exactly what strawberry's own conversion builds."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import strawberry
from strawberry.types.arguments import convert_argument

from api.inputs import compile_inputs


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Line:
    sku: str
    quantity: int
    price: Decimal
    note: str | None = None
    colour: Colour = Colour.RED


@strawberry.input
class Basket:
    id: str
    lines: list[Line]
    tags: list[str] | None = None
    parent: Basket | None = None
    maybe_lines: list[Line | None] | None = None
    nothing_default: str | None = strawberry.UNSET


@strawberry.input
class WithMaybe:
    value: strawberry.Maybe[str]


@strawberry.type
class Query:
    @strawberry.field
    def basket(self, basket: Basket) -> str:
        return basket.id

    @strawberry.field
    def maybe(self, value: WithMaybe) -> str:
        return "x"


SAMPLES = [
    {"id": "b1", "lines": []},
    {"id": "b2", "lines": [{"sku": "A", "quantity": 2, "price": Decimal("1.50"), "colour": Colour.BLUE}], "tags": None},
    {
        "id": "b3",
        "lines": [{"sku": "A", "quantity": 1, "price": Decimal("0"), "note": "n"}],
        "tags": ["x", "y"],
        "parent": {"id": "p", "lines": [{"sku": "B", "quantity": 3, "price": Decimal("9.99")}]},
        "maybeLines": [None, {"sku": "C", "quantity": 1, "price": Decimal("2")}],
        "nothingDefault": None,
    },
]


def _generic(schema: strawberry.Schema, value: dict) -> Basket:
    """Strawberry's own conversion, with the plans taken out for the call."""
    definitions = [Basket.__strawberry_definition__, Line.__strawberry_definition__]  # type: ignore[attr-defined]
    hooks = [d.from_input for d in definitions]
    for d in definitions:
        d.from_input = None
    try:
        return convert_argument(value, Basket, schema.schema_converter.scalar_registry, schema.config)  # type: ignore[return-value]
    finally:
        for d, hook in zip(definitions, hooks, strict=True):
            d.from_input = hook


def test_plans_build_what_strawberry_builds():
    schema = strawberry.Schema(query=Query)
    expected = [_generic(schema, sample) for sample in SAMPLES]
    assert compile_inputs(schema) == 2
    registry = schema.schema_converter.scalar_registry
    for sample, want in zip(SAMPLES, expected, strict=True):
        got = convert_argument(sample, Basket, registry, schema.config)
        assert got == want
        assert isinstance(got, Basket) and all(isinstance(line, Line) for line in got.lines)


def test_lists_are_copied_not_shared():
    schema = strawberry.Schema(query=Query)
    compile_inputs(schema)
    tags = ["a"]
    registry = schema.schema_converter.scalar_registry
    got = convert_argument({"id": "b", "lines": [], "tags": tags}, Basket, registry, schema.config)
    assert got.tags == tags and got.tags is not tags  # type: ignore[attr-defined]


def test_types_with_maybe_keep_strawberrys_conversion():
    schema = strawberry.Schema(query=Query)
    compile_inputs(schema)
    assert WithMaybe.__strawberry_definition__.from_input is None  # type: ignore[attr-defined]


def test_a_query_runs_through_the_plans():
    schema = strawberry.Schema(query=Query)
    compile_inputs(schema)
    result = schema.execute_sync('{ basket(basket: {id: "q", lines: [{sku: "A", quantity: 1, price: "2.5"}]}) }')
    assert result.errors is None and result.data == {"basket": "q"}
