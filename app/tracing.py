"""Spans for the use cases (the rules evaluation), when tracing is on.

Off by default, and then `span()` is a shared no-op context manager: OpenTelemetry is
not even imported. api/tracing.py turns it on from the standard OTEL_* variables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

_tracer: Tracer | None = None


def use(tracer: Tracer | None) -> None:
    global _tracer
    _tracer = tracer


def tracer() -> Tracer | None:
    return _tracer


@contextlib.contextmanager
def _traced(name: str, attributes: dict[str, Any]) -> Iterator[None]:
    assert _tracer is not None
    with _tracer.start_as_current_span(name, attributes=attributes):
        yield


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[None]:
    if _tracer is None:
        return contextlib.nullcontext()
    return _traced(name, attributes)
