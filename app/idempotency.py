"""Recordings that are idempotent on the store's external id (orders, returns, events) or on
an idempotency key (adjustments)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.errors import DomainError, ErrorCode
from persistence.connections import IntegrityError

Result = TypeVar("Result")
Stored = TypeVar("Stored")


async def record_once(
    record: Callable[[], Awaitable[Result]],
    find: Callable[[], Awaitable[Stored | None]],
    replay: Callable[[Stored], Result],
) -> Result:
    """`record()`, unless the external id's unique index says it was recorded already (a
    replay, or a concurrent twin that won the race): then the stored result, replayed."""
    try:
        return await record()
    except IntegrityError:
        existing = await find()
        if existing is None:
            raise
        return replay(existing)


def conflict(what: str, external_id: str, field: list[str] | None = None) -> DomainError:
    """The same external id (or idempotency key) again, with other content: refused,
    never merged."""
    return DomainError(
        ErrorCode.IDEMPOTENCY_CONFLICT,
        f"{what} '{external_id}' was already recorded with different content; "
        f"an id can be recorded once (a replay must repeat it exactly).",
        field or ["external_id"],
    )
