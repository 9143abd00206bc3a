"""Plain leaf fields answered by the lean execution context answer exactly as graphql-core's
own path does, errors included (a strawberry upgrade that changes this fails here)."""

from __future__ import annotations

import gc
import weakref
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.lean_fields import LeanExecutionContext


@strawberry.enum
class Kind(Enum):
    EARN = "earn"


@strawberry.type
class Entry:
    kind: Kind
    points: int
    amount: Decimal
    reason: str | None
    required: str

    @strawberry.field
    def doubled(self) -> int:
        return self.points * 2


@strawberry.type
class Query:
    @strawberry.field
    def entries(self) -> list[Entry]:
        return [
            Entry(kind=Kind.EARN, points=5, amount=Decimal("1.50"), reason=None, required="x"),
            Entry(kind=Kind.EARN, points=7, amount=Decimal("2"), reason="r", required=None),  # type: ignore[arg-type]
        ]


QUERY = "{ entries { __typename kind points total: amount reason required doubled } }"


async def _both() -> tuple[strawberry.types.ExecutionResult, strawberry.types.ExecutionResult]:
    plain = strawberry.Schema(query=Query)
    lean = strawberry.Schema(query=Query, execution_context_class=LeanExecutionContext)
    return await plain.execute(QUERY), await lean.execute(QUERY)


async def test_the_lean_path_answers_data_and_errors_as_graphql_core_does():
    plain, lean = await _both()

    assert lean.data == plain.data
    assert [(e.message, e.path) for e in lean.errors or []] == [(e.message, e.path) for e in plain.errors or []]
    assert plain.errors  # the null in a non-null field is reported on both paths


async def test_only_basic_leaf_fields_skip_graphql_cores_per_field_path(monkeypatch):
    seen: list[str] = []
    real = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self, parent_type, source, field_details_list, *args):
        seen.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return real(self, parent_type, source, field_details_list, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    lean = strawberry.Schema(query=Query, execution_context_class=LeanExecutionContext)
    await lean.execute(QUERY)

    # The resolver field, introspection's __typename and the null in a non-null field
    # take graphql-core's path; the other leaves do not.
    assert sorted(set(seen)) == ["Entry.__typename", "Entry.doubled", "Entry.required", "Query.entries"]


@strawberry.type
class Edge:
    cursor: str
    node: Entry


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Badge(Named):
    """Has an interface, so strawberry gives it an `is_type_of` (an isinstance test)."""

    level: int


@strawberry.type
class Page:
    edges: list[Edge]
    badges: list[Badge | None]
    first: Edge | None
    missing: Edge | None
    wrong: list[Edge]


def _page() -> Page:
    # The second entry holds a null in a non-null field: graphql-core's path reports it.
    entries = [
        Entry(kind=Kind.EARN, points=n, amount=Decimal(n), reason=None, required=required)  # type: ignore[arg-type]
        for n, required in ((1, "x"), (2, None))
    ]
    edges = [Edge(cursor=f"c{n}", node=entry) for n, entry in enumerate(entries)]
    # `wrong` holds a Badge where an Edge belongs: graphql-core's path reports it.
    badges: list[Badge | None] = [Badge(name="b", level=1), None]
    return Page(edges=edges, badges=badges, first=edges[0], missing=None, wrong=[Badge(name="x", level=0)])  # type: ignore[list-item]


@strawberry.type
class PageQuery:
    @strawberry.field
    def page(self) -> Page:
        return _page()


NESTED = [
    "{ page { edges { cursor node { kind points reason } } badges { name level } first { cursor }"
    " missing { cursor } } }",
    "{ page { edges { cursor node { kind points doubled } } } }",
    "{ page { edges { cursor node { required } } } }",
    "{ page { wrong { cursor } } }",
    "{ page { first { __typename node { __typename points } } } }",
]


async def test_plain_objects_and_lists_of_them_answer_as_graphql_core_does():
    plain = strawberry.Schema(query=PageQuery)
    lean = strawberry.Schema(query=PageQuery, execution_context_class=LeanExecutionContext)
    for query in NESTED:
        expected, answered = await plain.execute(query), await lean.execute(query)
        assert answered.data == expected.data, query
        assert [(e.message, e.path) for e in answered.errors or []] == [
            (e.message, e.path) for e in expected.errors or []
        ], query
    # The cases that must fail do fail, on both paths.
    assert (await plain.execute(NESTED[2])).errors
    assert (await plain.execute(NESTED[3])).errors


async def test_plain_objects_skip_graphql_cores_per_field_path(monkeypatch):
    seen: list[str] = []
    real = StrawberryGraphQLCoreExecutionContext.execute_field

    def counting(self, parent_type, source, field_details_list, *args):
        seen.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
        return real(self, parent_type, source, field_details_list, *args)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counting)
    lean = strawberry.Schema(query=PageQuery, execution_context_class=LeanExecutionContext)
    await lean.execute(NESTED[0])

    # Only the root's resolver: the page's edges, nodes, badges (strawberry's own type
    # check) and the null object are answered in one walk.
    assert seen == ["PageQuery.page"]


class _Context:
    """A request's context: what everything a request makes hangs from."""


@strawberry.type
class AsyncQuery:
    @strawberry.field
    async def points(self, info: strawberry.Info) -> int:
        return 5 if isinstance(info.context, _Context) else 0


async def _context_left_after(execution_context_class: type) -> bool:
    schema = strawberry.Schema(query=AsyncQuery, execution_context_class=execution_context_class)
    context = _Context()
    left = weakref.ref(context)
    gc.disable()
    try:
        result = await schema.execute("{ points }", context_value=context)
        del context
        return left() is not None and result.data == {"points": 5}
    finally:
        gc.enable()


async def test_a_request_is_freed_when_it_ends_not_by_the_garbage_collector():
    assert not await _context_left_after(LeanExecutionContext)
    # graphql-core's own context keeps it in a reference cycle until a collection
    assert await _context_left_after(StrawberryGraphQLCoreExecutionContext)
