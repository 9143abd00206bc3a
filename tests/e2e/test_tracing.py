"""OpenTelemetry spans, collected by the SDK's in-memory exporter: every request has its
span whichever GraphQL path serves it, with its operation and root field beneath it; the
rules evaluation names its rules version; on PostgreSQL, asyncpg's statements too."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api import tracing
from tests.conftest import make_settings, running_server, unique
from tests.graphql_client import RECORD_ORDER, enroll, gql, order_input

VERSION = "query Version { rulesVersion { version } }"


@pytest.fixture(scope="module")
async def traced(database_url):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    try:
        async with running_server(make_settings(database_url)) as server:
            yield server, exporter
    finally:
        tracing.disable()


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_request_has_a_span_with_its_operation_and_root_field_beneath_it(traced, method):
    server, exporter = traced
    exporter.clear()
    async with server.client() as client:
        if method == "POST":
            response = await client.post("/graphql", json={"query": VERSION})
        else:
            response = await client.get("/graphql", params={"query": VERSION})
    assert response.status_code == 200

    spans = {span.name: span for span in exporter.get_finished_spans()}
    request = spans[f"{method} /graphql"]
    operation = spans["graphql Version"]
    field = spans["graphql.resolve rulesVersion"]
    assert request.attributes["loyalty.request_id"] == response.headers["x-request-id"]
    assert operation.parent.span_id == request.context.span_id
    assert field.parent.span_id == operation.context.span_id
    assert operation.context.trace_id == field.context.trace_id == request.context.trace_id


async def test_the_rules_evaluation_is_a_span_with_its_rules_version(traced, database_url):
    server, exporter = traced
    async with server.client() as client:
        customer = unique("cust")
        await enroll(client, customer)
        exporter.clear()
        data = await gql(client, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, "5.00")))

    spans = exporter.get_finished_spans()
    (evaluation,) = [span for span in spans if span.name == "rules.evaluate"]
    assert evaluation.attributes["loyalty.rules_version"] == data["recordOrder"]["order"]["rulesVersion"]
    if database_url.startswith("postgres"):
        # The request's own statements, in its trace (background tasks poll in traces of their own).
        (request,) = [span for span in spans if span.name == "POST /graphql"]
        statements = [
            span
            for span in spans
            if span.attributes.get("db.system") == "postgresql" and span.context.trace_id == request.context.trace_id
        ]
        assert statements, [span.name for span in spans]


def test_tracing_is_off_unless_the_otel_variables_ask_for_it():
    assert not tracing.wanted({})
    assert not tracing.wanted({"OTEL_SERVICE_NAME": "loyalty"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.wanted({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing.wanted({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert not tracing.wanted({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})
