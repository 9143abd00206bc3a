"""The service's clock: what "now" is for every use case and job.

Tests (and nothing else) move it, so that a year of a program's life runs in seconds: the
server in the test process, its use cases and its jobs all read the same clock. Leases
between schedulers are kept on `wall_now`, the real time, so a moved clock never holds a
job from another process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        # Only tests move the clock: the common case skips building a second datetime.
        offset = self._offset
        return datetime.now(UTC) + offset if offset else datetime.now(UTC)

    def move_to(self, moment: datetime) -> None:
        """From here on, time runs on from `moment`."""
        if moment.tzinfo is None:
            raise ValueError("the clock is moved to an aware time")
        self._offset = moment - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self._offset += delta

    def reset(self) -> None:
        self._offset = timedelta(0)


clock = Clock()

# Set only around backfills (`loyalty import orders --award`): a past order is recorded as
# of when it was placed, so its entries, pending days and expiry date from then.
_AS_OF: ContextVar[datetime | None] = ContextVar("as_of", default=None)


def utcnow() -> datetime:
    moment = _AS_OF.get()
    return clock.now() if moment is None else moment


def wall_now() -> datetime:
    """The real time, whatever the clock says (leases, run records' start and finish)."""
    return datetime.now(UTC)


@contextlib.contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """Within this block (this task only), the use cases' `now` is `moment` (imports with --award)."""
    token = _AS_OF.set(moment)
    try:
        yield
    finally:
        _AS_OF.reset(token)
