"""The ASGI application: GraphQL at /graphql, health at /health/live and /health/ready,
metrics at /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api import dashboard, unavailable
from api.auth import InvalidCredentials, resolve_caller
from api.auth_throttle import RefuseThrottledClients, client_address
from api.body_limit import BodyLimit
from api.context import Context
from api.cors import cors
from api.graphiql import MOUNT as GRAPHIQL_MOUNT
from api.graphiql import assets_dir, local_page
from api.health import ROUTES as HEALTH_ROUTES
from api.json_posts import JsonPosts
from api.lifecycle import Lifecycle
from api.metrics import ROUTES as METRICS_ROUTES
from api.metrics import keep_gauges_fresh, worker_exited
from api.observed import ObserveRequests
from api.operations_observed import quiet_strawberry_errors
from api.schema import build_schema
from api.tracing import TraceOperations, start_from_environment
from app import tracing
from app.bootstrap import SHUTDOWN_SECONDS, Services, running_services
from app.gc_tuning import tune_for_serving
from app.settings import Settings


class LoyaltyGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, extensions: Sequence[Callable[[], SchemaExtension]] = ()):
        super().__init__(
            build_schema(settings, extensions, observe_operations=settings.request_metrics or settings.access_log),
            graphql_ide=None if settings.production else "graphiql",
            # Queries may use GET (cacheable); mutations never do.
            allow_queries_via_get=True,
        )
        self.services: Services | None = None
        cdn_page = get_graphql_ide_html("graphiql")
        self._ide_page = local_page(cdn_page, assets_dir()) or cdn_page

    @property
    def graphql_ide_html(self) -> str:
        return self._ide_page

    def decode_json(self, data: str | bytes) -> object:
        """A body that is not UTF-8 JSON, or whose JSON is not an object (or a batch's
        list), is the client's mistake: 400, not the 500 of strawberry's `.get()` on it.
        orjson reads what it can (a fifth of the json module's CPU); what it refuses (a
        lone surrogate, an integer past 64 bits, NaN) the json module judges, as before."""
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:
                decoded = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
            except ValueError:  # JSONDecodeError and UnicodeDecodeError both
                raise HTTPException(400, "Unable to parse request body as JSON (UTF-8)") from None
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object: {query, variables, operationName}")
        return decoded

    def encode_json(self, data: object) -> str | bytes:
        """As strawberry's (compact JSON), by orjson: the same JSON, non-ASCII characters
        as UTF-8 rather than escapes; what orjson cannot encode (an integer past 64 bits
        in a JSON scalar) the json module encodes, as before."""
        try:
            return orjson.dumps(data)
        except TypeError:  # orjson.JSONEncodeError
            return super().encode_json(data)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        return process_result(unavailable.answer(result)[1])

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        answers: list[Any] = response_data if isinstance(response_data, list) else [response_data]
        if any(
            (error.get("extensions") or {}).get("code") == unavailable.CODE
            for answer in answers
            for error in answer.get("errors") or ()
        ):
            response.status_code = unavailable.STATUS
        return response

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        try:
            return await self.context_for(request.headers.get("authorization"))
        except InvalidCredentials as error:
            # Counted here only: the fast path hands every refusal to this view.
            assert self.services is not None
            self.services.auth_throttle.failed(client_address(request.scope))
            raise HTTPException(401, str(error)) from None

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """graphql-transport-ws sends credentials in `connection_init`, as
        `{"Authorization": "Bearer <key>"}` (browsers cannot set headers on websockets)."""
        params = context.connection_params or {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is not None:
            if not isinstance(authorization, str):
                raise ConnectionRejectionError({"message": "Authorization must be a string."})
            try:
                context.caller = await resolve_caller(context.services, authorization)
            except InvalidCredentials as error:
                raise ConnectionRejectionError({"message": str(error)}) from None
        return UNSET

    async def context_for(self, authorization: str | None) -> Context:
        """Raises InvalidCredentials when credentials are presented and wrong."""
        assert self.services is not None, "the lifespan has not started the services"
        caller = await resolve_caller(self.services, authorization)
        return Context(services=self.services, caller=caller)


class DatabaseContext:
    """Runs each request against the app's own database (see persistence.connections)."""

    def __init__(self, app: ASGIApp, graphql: LoyaltyGraphQL):
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = self.graphql.services
        if services is None or scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        # Not `with services.db:` -- that keeps its tokens on the shared object, which
        # concurrent requests would unwind in the wrong order.
        token = services.db.bind()
        try:
            await self.app(scope, receive, send)
        finally:
            services.db.unbind(token)


def observing_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """When tracing is on, the operation's spans: a schema extension, so it runs whichever
    path serves the request. The request's observation (operation, caller, errors) is
    part of the schema's own extension (api/service_operations.py); with metrics and the
    request line both off (only to measure their cost) nothing observes."""
    observing: list[Callable[[], SchemaExtension]] = []
    if tracing.tracer() is not None:
        observing.append(TraceOperations)
    return observing


def create_app(
    settings: Settings | None = None,
    *,
    watch_rules: bool = True,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    drain_on_signals: bool = False,
    serving_process: bool = False,
) -> Starlette:
    """`extensions`: schema extensions (factories) to run on every operation, whichever
    path serves it, after the service's own (which include its request observation and,
    when on, tracing). `drain_on_signals`: SIGTERM drains before uvicorn stops
    (api/lifecycle.py); for a server process of its own, not for an app that tests run
    inside their process. `serving_process`: the process is this app's server (a `loyalty
    serve` worker): the garbage collector is tuned for it once the services have started
    (app/gc_tuning.py), a process-wide choice that tests running apps in their own
    process do not make."""
    settings = settings or Settings.from_env()
    start_from_environment()
    quiet_strawberry_errors()
    graphql = LoyaltyGraphQL(settings, [*observing_extensions(settings), *extensions])
    lifecycle = Lifecycle()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_services(settings, watch_rules=watch_rules, serve_events=True) as services:
            graphql.services = services
            app.state.services = services
            app.state.lifecycle = lifecycle
            lifecycle.on_drain.append(services.stop_jobs)
            if drain_on_signals:
                lifecycle.drain_on_signals(
                    drain_seconds=settings.shutdown_drain_seconds,
                    grace_seconds=settings.shutdown_grace_seconds,
                    give_up_seconds=give_up_after(settings.shutdown_grace_seconds),
                )
            if serving_process:
                tune_for_serving()
            gauges = asyncio.create_task(keep_gauges_fresh(services), name="metrics-gauges")
            try:
                yield
            finally:
                lifecycle.begin_drain()
                lifecycle.stop_background()
                gauges.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gauges
                worker_exited()

    routes = [
        *HEALTH_ROUTES,
        *METRICS_ROUTES,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *dashboard.routes(),
    ]
    if not settings.production and assets_dir().is_dir():
        routes.append(Mount(GRAPHIQL_MOUNT, app=StaticFiles(directory=assets_dir()), name="graphiql"))
    return Starlette(
        routes=routes,
        middleware=[
            *cors(settings.cors_origins),  # outermost: every answer, the fast path's included
            Middleware(
                ObserveRequests,
                lifecycle=lifecycle,
                request_metrics=settings.request_metrics,
                access_log=settings.access_log,
            ),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(DatabaseContext, graphql=graphql),
            Middleware(RefuseThrottledClients, graphql=graphql),
            Middleware(JsonPosts, graphql=graphql),
        ],
        lifespan=lifespan,
    )


def give_up_after(grace_seconds: float) -> float:
    """From the signal to the watchdog (api/lifecycle.py): the drain and uvicorn's wait
    for connections, each up to the grace period, then the services' end (the background
    tasks' stop and the pool's closing, app.bootstrap.SHUTDOWN_SECONDS), and a margin."""
    return 2 * grace_seconds + SHUTDOWN_SECONDS + 10


def app_factory() -> Starlette:
    """For `uvicorn --factory api.app:app_factory` (each worker builds its own app)."""
    return create_app(drain_on_signals=True, serving_process=True)
