"""The service's clock: what "now" is for every use case and job.

Tests (and nothing else) move it, so that a year of a program's life runs in seconds: the
server in the test process, its use cases and its jobs all read the same clock. Leases
between schedulers are kept on `wall_now`, the real time, so a moved clock never holds a
job from another process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

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


def utcnow() -> datetime:
    return clock.now()


def wall_now() -> datetime:
    """The real time, whatever the clock says (leases, run records' start and finish)."""
    return datetime.now(UTC)
