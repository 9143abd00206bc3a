"""The rules version in force, for code that runs outside a request (scheduled jobs).

`running_services` installs its registry's program here for as long as it runs; a job
reads it at the start of each run, so a reload between runs is seen by the next one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rules import Program

_sources: list[Callable[[], Program]] = []


@contextlib.contextmanager
def installed(source: Callable[[], Program]) -> Iterator[None]:
    _sources.append(source)
    try:
        yield
    finally:
        _sources.remove(source)


def program() -> Program:
    if not _sources:
        raise RuntimeError("no rules are in force: jobs run inside running_services")
    return _sources[-1]()
