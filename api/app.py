"""The ASGI application: GraphQL at /graphql, health at /health."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.http.ides import get_graphql_ide_html
from strawberry.types import ExecutionResult

from api import unavailable
from api.auth import InvalidCredentials, resolve_caller
from api.auth_throttle import RefuseThrottledClients, client_address
from api.body_limit import BodyLimit
from api.context import Context
from api.graphiql import MOUNT as GRAPHIQL_MOUNT
from api.graphiql import assets_dir, local_page
from api.json_posts import JsonPosts
from api.schema import build_schema
from app.bootstrap import Services, running_services
from app.settings import Settings


class LoyaltyGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, extensions: Sequence[Callable[[], SchemaExtension]] = ()):
        super().__init__(
            build_schema(settings, extensions),
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
        list), is the client's mistake: 400, not the 500 of strawberry's `.get()` on it."""
        try:
            decoded = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both
            raise HTTPException(400, "Unable to parse request body as JSON (UTF-8)") from None
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object: {query, variables, operationName}")
        return decoded

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

    async def context_for(self, authorization: str | None) -> Context:
        """Raises InvalidCredentials when credentials are presented and wrong."""
        assert self.services is not None, "the lifespan has not started the services"
        caller = await resolve_caller(self.services, authorization)
        return Context(services=self.services, caller=caller)


def create_app(
    settings: Settings | None = None,
    *,
    watch_rules: bool = True,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> Starlette:
    """`extensions`: schema extensions (factories) to run on every operation, whichever
    path serves it, after the service's own."""
    settings = settings or Settings.from_env()
    graphql = LoyaltyGraphQL(settings, extensions)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running_services(settings, watch_rules=watch_rules) as services:
            graphql.services = services
            app.state.services = services
            yield

    async def health(request: Request) -> JSONResponse:
        services: Services = request.app.state.services
        return JSONResponse({"status": "ok", "rulesVersion": services.program.version})

    routes = [
        Route("/health", health),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    if not settings.production and assets_dir().is_dir():
        routes.append(Mount(GRAPHIQL_MOUNT, app=StaticFiles(directory=assets_dir()), name="graphiql"))
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(RefuseThrottledClients, graphql=graphql),
            Middleware(JsonPosts, graphql=graphql),
        ],
        lifespan=lifespan,
    )


def app_factory() -> Starlette:
    """For `uvicorn --factory api.app:app_factory` (each worker builds its own app)."""
    return create_app()
