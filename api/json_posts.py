"""The common request, a JSON POST of one operation, answered without the general view.

Starlette's routing and strawberry's HTTP view handle every shape of request (GET
queries, GraphiQL, batches, multipart uploads, streaming transports) and pay for that
generality on each one: for recordOrder they were about a sixth of the server's CPU,
measured by py-spy under the throughput bench. The store back end and the storefronts
send one shape: POST, `application/json`, one `{query, variables, operationName}`.
Those are answered here through the view's own hooks, in the view's order (sub-response,
context -- so credentials are checked before the body is read --, decode_json,
root value, the schema with all its extensions, process_result, the error hook,
create_response). Anything else, including every request that ends in an HTTP error
(bad JSON, wrong credentials, an operation the method does not allow), goes to the view,
with its body replayed when it was read, so every error reads as it always has.

The view hooks this path does not call are listed in SKIPPED_VIEW_HOOKS: a view that
overrides one of them fails at start-up (`check_view`), rather than being skipped here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

_POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})

# The view's steps this path replaces: what they do for a JSON POST of one operation is
# done here. Overriding one of them changes what the view does, and this path would not
# follow, so start-up refuses it.
SKIPPED_VIEW_HOOKS = (
    "__call__",
    "run",
    "parse_http_body",
    "parse_json",
    "execute_operation",
    "execute_single",
    "is_request_allowed",
    "should_render_graphql_ide",
    "request_adapter_class",
)


class JsonPosts:
    def __init__(self, app: ASGIApp, graphql: GraphQL[Any, Any], path: str = "/graphql"):
        check_view(type(graphql))
        self.app = app
        self.graphql = graphql
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        is_json = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                is_json = value.split(b";", 1)[0].strip().lower() == b"application/json"
            elif name == b"accept":
                # Streaming transports (multipart/mixed, text/event-stream) are the view's.
                if b"multipart" in value or b"event-stream" in value:
                    is_json = False
                    break
        if is_json:
            await self._answer(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = self.graphql
        request = Request(scope, receive)
        sub_response = await view.get_sub_response(request)
        try:
            context = await view.get_context(request, response=sub_response)
        except HTTPException as error:
            # Wrong credentials, refused before the body is read, as the view's __call__
            # answers its HTTPExceptions (and get_context has counted the failure once).
            await PlainTextResponse(error.reason, status_code=error.status_code)(scope, receive, send)
            return
        body = await _read_body(receive)
        operation = _operation(view, body)
        if operation is None:
            await self.app(scope, _replay(body, receive), send)
            return
        query, variables, operation_name, extensions = operation
        try:
            result = await view.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                root_value=await view.get_root_value(request),
                operation_name=operation_name,
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=extensions,
            )
        except (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError):
            # Refused before anything ran: the view refuses it again, in its own words.
            await self.app(scope, _replay(body, receive), send)
            return
        response_data = await view.process_result(request, result)
        if result.errors:
            # Strawberry's hook for error reporting (Sentry's integration overrides it);
            # tests/e2e/test_extensions_run_on_every_path.py fails if an upgrade renames it.
            view._handle_errors(result.errors, response_data)
        response = view.create_response(response_data=response_data, sub_response=sub_response)
        await response(scope, receive, send)


def check_view(view: type[GraphQL[Any, Any]]) -> None:
    """Start-up fails when the view overrides a step this path does not take."""
    for name in SKIPPED_VIEW_HOOKS:
        if getattr(view, name) is not getattr(GraphQL, name):
            raise TypeError(
                f"{view.__name__} overrides {name}, which api.json_posts.JsonPosts does not call for"
                " JSON POSTs: call it there too (and take it off SKIPPED_VIEW_HOOKS), or stop overriding it."
            )


def _operation(view: GraphQL[Any, Any], body: bytes) -> tuple[str, dict | None, str | None, dict | None] | None:
    """The one operation a JSON body asks for; None for anything the view should judge."""
    try:
        data: Any = view.decode_json(body)
    except (HTTPException, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if (
        not isinstance(query, str)
        or not query
        or not isinstance(variables, dict | None)
        or not isinstance(operation_name, str | None)
        or not isinstance(extensions, dict | None)
    ):
        return None
    return query, variables, operation_name, extensions


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
