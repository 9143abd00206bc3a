"""OpenTelemetry tracing, off unless the standard OTEL_* variables turn it on.

On when OTEL_TRACES_EXPORTER names an exporter (`otlp`, `console`) or an OTLP endpoint
is set (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), unless
OTEL_SDK_DISABLED is true. The SDK then reads the rest itself (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, the exporter's endpoint and headers, OTEL_TRACES_SAMPLER).

Spans: one per HTTP request (api/observed.py, around every path that serves it), one per
GraphQL operation and per root field (`TraceOperations`), the rules evaluation with its
rules version (app/tracing.py), and asyncpg's statements (its instrumentation).
Off, nothing here imports OpenTelemetry and no extension is added.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from strawberry.extensions import SchemaExtension
from strawberry.utils.await_maybe import AwaitableOrValue

from app import tracing

if TYPE_CHECKING:
    from graphql import GraphQLResolveInfo
    from opentelemetry.sdk.trace import TracerProvider

INSTRUMENTATION = "loyalty"


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def start_from_environment() -> None:
    """Sets up the SDK as the OTEL_* variables say, once per process; no-op when they don't."""
    if tracing.tracer() is not None or not wanted():
        return
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    service = os.environ.get("OTEL_SERVICE_NAME", "loyalty")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    enable(provider)


def enable(provider: TracerProvider) -> None:
    """Traces requests and asyncpg's statements to `provider` (tests pass an in-memory one)."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    tracing.use(provider.get_tracer(INSTRUMENTATION))
    instrumentor = AsyncPGInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def disable() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    tracing.use(None)
    instrumentor = AsyncPGInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


class TraceOperations(SchemaExtension):
    """A span per GraphQL operation, and one per root field (the resolvers of note: a
    span per nested field would cost more than most of them take)."""

    def on_execute(self) -> Generator[None, None, None]:
        context = self.execution_context
        name = context.operation_name or "anonymous"
        with tracing.span(f"graphql {name}", **{"graphql.operation.name": name}):
            yield

    def resolve(
        self, _next: Any, root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any
    ) -> AwaitableOrValue[Any]:
        if info.path.prev is not None:
            return _next(root, info, *args, **kwargs)
        return _traced_root_field(_next, root, info, args, kwargs)


async def _traced_root_field(_next: Any, root: Any, info: GraphQLResolveInfo, args: Any, kwargs: Any) -> Any:
    with tracing.span(f"graphql.resolve {info.field_name}", **{"graphql.field.name": info.field_name}):
        result = _next(root, info, *args, **kwargs)
        if hasattr(result, "__await__"):
            result = await result
        return result
