"""Plain leaf fields answered by the lean execution context answer exactly as graphql-core's
own path does, errors included (a strawberry upgrade that changes this fails here)."""

from __future__ import annotations

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
