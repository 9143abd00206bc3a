"""The common request, a JSON POST of one operation, answered without the general view.

Starlette's routing and strawberry's HTTP view handle every shape of request (GET
queries, GraphiQL, batches, multipart uploads, streaming transports) and pay for that
generality on each one: for recordOrder they were about a sixth of the server's CPU,
measured by py-spy under the throughput bench. The store back end and the storefronts
send one shape: POST, `application/json`, one `{query, variables, operationName}`.
Those are answered here with the same schema, context and response body. Anything else,
including every request that ends in an HTTP error (bad JSON, wrong credentials, an
operation the method does not allow), goes to the view with its body replayed, so every
error reads as it always has.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from api import unavailable
from api.auth import InvalidCredentials

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from api.app import LoyaltyGraphQL

_POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
_HEADERS = [(b"content-type", b"application/json")]


class JsonPosts:
    def __init__(self, app: ASGIApp, graphql: LoyaltyGraphQL, path: str = "/graphql"):
        self.app = app
        self.graphql = graphql
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = self.graphql.services
        if services is None or scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        authorization = None
        is_json = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                is_json = value.split(b";", 1)[0].strip().lower() == b"application/json"
            elif name == b"accept":
                # Streaming transports (multipart/mixed, text/event-stream) are the view's.
                if b"multipart" in value or b"event-stream" in value:
                    is_json = False
                    break
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        if is_json:
            await self._answer(scope, receive, send, authorization)
        else:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, authorization: str | None) -> None:
        body = await _read_body(receive)
        request = _operation(body)
        if request is None:
            await self.app(scope, _replay(body, receive), send)
            return
        query, variables, operation_name, extensions = request
        try:
            context = await self.graphql.context_for(authorization)
            result = await self.graphql.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=extensions,
            )
        except (InvalidCredentials, CannotGetOperationTypeError, InvalidOperationTypeError):
            # Refused before anything ran: the view refuses it again, in its own words.
            await self.app(scope, _replay(body, receive), send)
            return
        status, result = unavailable.answer(result)
        payload = self.graphql.encode_json(process_result(result))
        content = payload.encode() if isinstance(payload, str) else payload
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_HEADERS, (b"content-length", str(len(content)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _operation(body: bytes) -> tuple[str, dict | None, str | None, dict | None] | None:
    """The one operation a JSON body asks for; None for anything the view should judge."""
    try:
        data = json.loads(body)
    except ValueError:
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
