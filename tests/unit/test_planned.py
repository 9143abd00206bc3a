"""A planned operation answers exactly as graphql-core's own execution does: data, errors
and their paths, nulls propagated to the nearest nullable field, resolvers with arguments
(literal and from variables), async resolvers, permission classes, mutations in order,
and whatever the walk hands to graphql-core (abstract types, directives, values that do
not fit). A strawberry or graphql-core upgrade that changes any of this fails here."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.planned import PlannedExecutionContext
from tests.unit.test_lean_fields import Edge, Entry, Kind, _page

ORDER: list[str] = []


class Never(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.interface
class Thing:
    name: str


@strawberry.type
class Widget(Thing):
    size: int


@strawberry.type
class Box:
    label: str

    @strawberry.field
    async def items(self, first: int = 2, prefix: str = "i") -> list[Widget]:
        await asyncio.sleep(0)
        return [Widget(name=f"{prefix}{n}", size=n) for n in range(first)]

    @strawberry.field
    def broken(self) -> int | None:
        raise ValueError("broken on purpose")

    @strawberry.field
    def broken_required(self) -> int:
        raise ValueError("required and broken")

    @strawberry.field
    async def late_broken(self) -> str | None:
        await asyncio.sleep(0)
        raise ValueError("broken later")

    @strawberry.field
    def wrong_type(self) -> list[Widget]:
        return [Widget(name="ok", size=1), Edge(cursor="c", node=None)]  # type: ignore[list-item]

    @strawberry.field
    def thing(self) -> Thing:
        return Widget(name="w", size=3)


@strawberry.type
class Query:
    @strawberry.field
    async def box(self, label: str = "box") -> Box | None:
        await asyncio.sleep(0)
        return Box(label=label)

    @strawberry.field
    def required_box(self) -> Box:
        return Box(label="required")

    @strawberry.field(permission_classes=[Never])
    async def secret(self) -> str | None:
        return "never seen"

    @strawberry.field
    def entries(self) -> list[Entry]:
        return [Entry(kind=Kind.EARN, points=1, amount=1, reason=None, required="x")]  # type: ignore[arg-type]

    @strawberry.field
    def page(self) -> Edge:
        return _page().edges[0]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def first(self) -> str:
        await asyncio.sleep(0.01)
        ORDER.append("first")
        return "1"

    @strawberry.mutation
    def second(self) -> str:
        ORDER.append("second")
        return "2"


QUERIES: list[tuple[str, dict[str, Any] | None]] = [
    ("{ box { __typename label items { name size } } }", None),
    ('{ box(label: "b") { label items(first: 3, prefix: "x") { name } } }', None),
    ("query($n: Int!, $p: String!) { box { items(first: $n, prefix: $p) { name size } } }", {"n": 4, "p": "v"}),
    ("{ box { label broken } }", None),
    ("{ box { label brokenRequired } }", None),
    ("{ requiredBox { label brokenRequired } }", None),
    ("{ box { lateBroken label } }", None),
    ("{ box { wrongType { name } } }", None),
    ("{ box { thing { __typename name ... on Widget { size } } } }", None),
    ("{ secret box { label } }", None),
    ("{ entries { kind points reason required } page { cursor node { points } } }", None),
    ("query($skip: Boolean!) { box { label @skip(if: $skip) items { name } } }", {"skip": True}),
    ("{ box { ...B } } fragment B on Box { label items { ...W } } fragment W on Widget { name }", None),
    ("{ __typename box { label } }", None),
]


def _answer(result: Any) -> tuple[Any, list[tuple[str, Any]]]:
    return result.data, [(e.message, e.path) for e in result.errors or []]


@pytest.mark.parametrize(("query", "variables"), QUERIES)
async def test_a_planned_operation_answers_as_graphql_core_does(query: str, variables: dict[str, Any] | None):
    plain = strawberry.Schema(query=Query, mutation=Mutation)
    planned = strawberry.Schema(query=Query, mutation=Mutation, execution_context_class=PlannedExecutionContext)
    expected = await plain.execute(query, variable_values=variables)
    # Twice: the first request plans, the second uses the plan.
    first = await planned.execute(query, variable_values=variables)
    again = await planned.execute(query, variable_values=variables)
    assert _answer(first) == _answer(expected), query
    assert _answer(again) == _answer(expected), query


async def test_the_failing_cases_fail_on_both_paths():
    plain = strawberry.Schema(query=Query)
    for query in ("{ box { label broken } }", "{ requiredBox { brokenRequired } }", "{ box { wrongType { name } } }"):
        assert (await plain.execute(query)).errors, query
    assert (await plain.execute("{ requiredBox { brokenRequired } }")).data is None


async def test_mutations_run_in_order():
    planned = strawberry.Schema(query=Query, mutation=Mutation, execution_context_class=PlannedExecutionContext)
    ORDER.clear()
    result = await planned.execute("mutation { a: first b: second c: first }")
    assert result.data == {"a": "1", "b": "2", "c": "1"}
    assert ORDER == ["first", "second", "first"]


async def test_resolvers_are_called_without_graphql_cores_per_field_path(monkeypatch):
    seen: list[str] = []
    real = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self, parent_type, source, field_details_list, *args):
        seen.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return real(self, parent_type, source, field_details_list, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    planned = strawberry.Schema(query=Query, execution_context_class=PlannedExecutionContext)
    result = await planned.execute("{ box { label items(first: 2) { name size } thing { name } } }")
    assert result.errors is None
    # Every resolver is called from the walk; the interface-typed field's value is then
    # completed by graphql-core's completion, not its per-field path.
    assert seen == []
