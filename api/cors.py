"""Cross-origin calls from browsers (storefronts on their own origin).

Starlette's CORSMiddleware answers the preflight (OPTIONS) itself and adds the headers to
every other answer, so it wraps the whole app: the fast JSON-POST path, strawberry's view,
and the early refusals (401, 413, 429) alike -- a browser only lets a page read an error
whose answer carries `Access-Control-Allow-Origin`.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

# How long a browser may reuse a preflight answer. Chromium caps it at 2 hours, Firefox at
# 24 hours; an hour saves one OPTIONS round trip per operation without keeping a removed
# origin allowed for long.
PREFLIGHT_MAX_AGE_SECONDS = 3600


def cors(origins: tuple[str, ...]) -> list[Middleware]:
    """The middleware for LOYALTY_CORS_ORIGINS; none when no origin is allowed."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            # Credentials travel in Authorization, never in cookies.
            allow_headers=["Authorization", "Content-Type", "Accept"],
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )
    ]
