"""Health for orchestrators and load balancers.

- `/health/live`: the process answers (restart it when this fails).
- `/health/ready`: the database answers, the rules are loaded and the service is not
  shutting down (send it traffic only while this is 200).
- `/health`: as it always was, for old callers.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.lifecycle import Lifecycle
from app.bootstrap import Services
from app.database_admin import ping

DATABASE_TIMEOUT_SECONDS = 2.0
log = logging.getLogger("loyalty.health")


async def health(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    return JSONResponse({"status": "ok", "rulesVersion": services.program.version})


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    lifecycle: Lifecycle = request.app.state.lifecycle
    checks = {
        "database": await _database_answers(),
        "rules": services.rules.program is not None,
        "accepting": not lifecycle.draining,
    }
    body = {
        "status": "ok" if all(checks.values()) else "unavailable",
        "checks": {name: "ok" if passed else "failing" for name, passed in checks.items()},
        "rulesVersion": services.program.version if services.rules.program else None,
    }
    return JSONResponse(body, status_code=200 if all(checks.values()) else 503)


async def _database_answers() -> bool:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            await ping()
    except Exception as error:  # any failure means not ready; probes repeat, so one short line
        log.warning("not ready: the database does not answer (%s)", repr(error))
        return False
    return True


ROUTES = [Route("/health", health), Route("/health/live", live), Route("/health/ready", ready)]
