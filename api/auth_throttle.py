"""Refuses, with 429 and Retry-After, clients that failed to authenticate too often
(counted by `app.auth_throttle`), before their credentials are looked at."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from api.app import LoyaltyGraphQL


def client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class RefuseThrottledClients:
    def __init__(self, app: ASGIApp, graphql: LoyaltyGraphQL):
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = self.graphql.services
        if services is not None and scope["type"] in ("http", "websocket") and _has_credentials(scope):
            retry_after = services.auth_throttle.retry_after(client_address(scope))
            if retry_after is not None:
                await _refuse(scope, receive, send, retry_after)
                return
        await self.app(scope, receive, send)


def _has_credentials(scope: Scope) -> bool:
    # Only requests that present credentials can fail to authenticate; anonymous ones
    # see no data anyway and are left alone.
    return any(name == b"authorization" for name, _ in scope["headers"])


async def _refuse(scope: Scope, receive: Receive, send: Send, retry_after: int) -> None:
    if scope["type"] == "websocket":
        # Closed before the handshake is accepted: the client sees HTTP 403.
        await send({"type": "websocket.close", "code": 1008, "reason": "too many failed authentications"})
        return
    response = PlainTextResponse(
        f"Too many failed authentications from this client; try again in {retry_after} s.",
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )
    await response(scope, receive, send)
