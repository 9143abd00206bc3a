"""Relay connections' shared parts: one PageInfo, and the bounds of `first`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import strawberry
from graphql import GraphQLError

from api.error_codes import TopLevelCode


@strawberry.type(description="Where a page sits in its connection (Relay's PageInfo).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow: ask again with after: endCursor.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page: true when it was asked for after a cursor."
    )
    start_cursor: str | None = strawberry.field(description="The first edge's cursor; null on an empty page.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on an empty page (except where a field says otherwise)."
    )


class _Edge(Protocol):
    @property
    def cursor(self) -> str: ...


def page_info(edges: Sequence[_Edge], *, more: bool, after: str | None, empty_end: str | None = None) -> PageInfo:
    """Paging forwards only, the page before exists exactly when `after` named an item."""
    return PageInfo(
        has_next_page=more,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else empty_end,
    )


def page_size(first: int, maximum: int) -> int:
    """`first` itself, or a BAD_USER_INPUT error that says the bounds: a page of 0 would
    answer hasNextPage with no cursor to follow, and a loop on hasNextPage never ends."""
    if not 1 <= first <= maximum:
        raise bad_input(f"first must be between 1 and {maximum}; it was {first}.", "first")
    return first


def bad_input(message: str, field: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": TopLevelCode.BAD_USER_INPUT.value, "field": [field]})
