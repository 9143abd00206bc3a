"""Every HTTP request, observed once, whichever path serves it: a request id, one log
line, the request metrics and the request's span.

The outermost middleware, so the fast JSON path (api/json_posts.py), strawberry's view
and the other routes are all inside it. What only GraphQL knows (the operation, the
caller's kind, errors) is written into the request's `RequestRecord` by the schema's
extension and error hook (api/operations_observed.py).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import re
import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.lifecycle import Lifecycle
from api.paths import route_path
from app import metrics, tracing
from app.logging_setup import request_id as current_request_id

log = logging.getLogger("loyalty.request")

# A client's own id is kept when it is a plain token of reasonable length (it is echoed
# into logs and headers); anything else is replaced.
_GOOD_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_QUIET_PATHS = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})
# 503: the database is out of reach (api/unavailable.py answers and logs it).
_OUTCOME_BY_STATUS = {401: "unauthenticated", 429: "throttled", 503: "unavailable"}


@dataclass
class RequestRecord:
    request_id: str
    operation: str | None = None
    """The operation's root fields (bounded by the schema, so fit for a metric label)."""
    operation_name: str | None = None
    """The name the client gave the operation (logged, never a label)."""
    caller: str | None = None
    client_errors: list[str] = field(default_factory=list)
    internal_errors: list[BaseException] = field(default_factory=list)


_record: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar("request_record", default=None)


def current_record() -> RequestRecord | None:
    return _record.get()


class ObserveRequests:
    def __init__(
        self,
        app: ASGIApp,
        lifecycle: Lifecycle,
        graphql_path: str = "/graphql",
        request_metrics: bool = True,
        access_log: bool = True,
    ):
        self.app = app
        self.lifecycle = lifecycle
        self.graphql_path = graphql_path
        self.request_metrics = request_metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        record = RequestRecord(request_id)
        record_token = _record.set(record)
        id_token = current_request_id.set(request_id)
        status = 500  # unless a response starts
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        self.lifecycle.request_started()
        if self.request_metrics:
            metrics.IN_FLIGHT.inc()
        started = time.perf_counter()
        try:
            if tracing.tracer() is None:
                await self.app(scope, receive, send_with_id)
            else:
                with tracing.span(
                    f"{scope['method']} {scope['path']}",
                    **{
                        "http.request.method": scope["method"],
                        "url.path": scope["path"],
                        "loyalty.request_id": request_id,
                    },
                ):
                    await self.app(scope, receive, send_with_id)
        except Exception as error:
            record.internal_errors.append(error)
            raise
        finally:
            seconds = time.perf_counter() - started
            self.lifecycle.request_finished()
            if self.request_metrics:
                metrics.IN_FLIGHT.dec()
            self._observed(scope, record, status, seconds)
            current_request_id.reset(id_token)
            _record.reset(record_token)

    def _observed(self, scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
        path = route_path(scope)
        if path in _QUIET_PATHS:
            return
        outcome = _outcome(record, status)
        is_graphql = path == self.graphql_path
        if is_graphql and self.request_metrics:
            operation = record.operation or "none"
            _counter(operation, outcome).inc()
            _latency(operation).observe(seconds)
        if not self.access_log:
            return
        level = logging.ERROR if outcome == "internal_error" else logging.WARNING if outcome != "ok" else logging.INFO
        if not log.isEnabledFor(level):
            return
        error = record.internal_errors[0] if record.internal_errors else None
        # makeRecord and handle rather than log.log(): the same record, without the walk up
        # the stack for a caller's file and line, which say nothing here (measured: a
        # fifth of the line's cost).
        log.handle(
            log.makeRecord(
                log.name,
                level,
                __file__,
                0,
                "%s %s %d %s %s",
                (scope["method"], path, status, record.operation or "-", outcome),
                (type(error), error, error.__traceback__) if error else None,
                extra={
                    "request_id": record.request_id,
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "operation": record.operation,
                    "operation_name": record.operation_name,
                    "caller": record.caller,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 2),
                    "errors": record.client_errors or None,
                    "internal_errors": [repr(e) for e in record.internal_errors] or None,
                },
            )
        )


# The labelled children, kept: `labels()` validates and locks on every call. The label
# values are bounded (root fields of the schema, a few outcomes), and so are these caches.
@functools.cache
def _counter(operation: str, outcome: str) -> Counter:
    return metrics.REQUESTS.labels(operation, outcome)


@functools.cache
def _latency(operation: str) -> Histogram:
    return metrics.REQUEST_SECONDS.labels(operation)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _GOOD_ID.fullmatch(value):
            return value.decode()
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


def _outcome(record: RequestRecord, status: int) -> str:
    if status in _OUTCOME_BY_STATUS:
        return _OUTCOME_BY_STATUS[status]
    if record.internal_errors or status >= 500:
        return "internal_error"
    if record.client_errors or status >= 400:
        return "client_error"
    return "ok"
