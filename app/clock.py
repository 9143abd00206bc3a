from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

# Set only around backfills (`loyalty import orders --award`): a past order is recorded as
# of when it was placed, so its entries, pending days and expiry date from then.
_AS_OF: ContextVar[datetime | None] = ContextVar("as_of", default=None)


def utcnow() -> datetime:
    moment = _AS_OF.get()
    return datetime.now(UTC) if moment is None else moment


@contextlib.contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """Within this block (this task only), the use cases' `now` is `moment`."""
    token = _AS_OF.set(moment)
    try:
        yield
    finally:
        _AS_OF.reset(token)
