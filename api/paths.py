"""The path the app routes on, for middleware that picks requests by path."""

from __future__ import annotations

from starlette.types import Scope


def route_path(scope: Scope) -> str:
    """`scope["path"]` without the root path: uvicorn puts `--root-path` in front of the
    request's path (the ASGI spec's reading), and Starlette's router takes it off again."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path
