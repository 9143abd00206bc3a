"""`/metrics` in Prometheus' text format, for the networks in LOYALTY_METRICS_ALLOW.

With several workers (PROMETHEUS_MULTIPROC_DIR set by `loyalty serve`), whichever worker
answers sums every worker's files. The pool and rules gauges are refreshed in each worker
every few seconds (`refresh_gauges`), since a scrape reaches one worker only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app import metrics
from app.bootstrap import Services
from app.database_admin import pool_use
from app.settings import Settings

REFRESH_SECONDS = 1.0


def _allowed(settings: Settings, host: str | None) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_allow)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


async def metrics_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    client = request.client.host if request.client else None
    if not _allowed(services.settings, client):
        return PlainTextResponse("Not allowed from this address (LOYALTY_METRICS_ALLOW).\n", status_code=403)
    refresh_gauges(services)
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        content = generate_latest(registry)
    else:
        content = generate_latest(REGISTRY)
    return Response(content, media_type=CONTENT_TYPE_LATEST)


_shown_version: str | None = None
_seen_refusal: object = None


def refresh_gauges(services: Services) -> None:
    global _shown_version, _seen_refusal
    version = services.program.version
    if version != _shown_version:
        metrics.rules_version_changed(_shown_version, version)
        _shown_version = version
    # The registry keeps the errors of its last refused reload, a new list for each
    # refusal (from the watcher or reloadRules): counted when first seen here, so two
    # refusals between refreshes count once.
    refused = services.rules.last_errors
    if refused and refused is not _seen_refusal:
        metrics.RULES_RELOAD_FAILURES.inc()
    _seen_refusal = refused
    use = pool_use()
    if use is not None:
        metrics.POOL_CONNECTIONS.labels("in_use").set(use.in_use)
        metrics.POOL_CONNECTIONS.labels("idle").set(use.idle)
        metrics.POOL_CONNECTIONS.labels("max").set(use.max_size)


async def keep_gauges_fresh(services: Services) -> None:
    """Runs for the life of the app (the lifespan cancels it)."""
    while True:
        refresh_gauges(services)
        await asyncio.sleep(REFRESH_SECONDS)


def worker_exited() -> None:
    """Drops this worker's live gauges from the sums (multi-process mode)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())


ROUTES = [Route("/metrics", metrics_endpoint)]
