"""The `loyalty` command: serve, migrate, demo, apikey, rules, import, jobs, config."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime

from api import import_command, rules_command
from app.settings import ConfigError, Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loyalty", description="The loyalty service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (GraphQL at /graphql, health at /health/ready)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--root-path", default="", help="the path prefix a proxy serves this under (e.g. /loyalty), for links"
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For/-Proto from the addresses in --forwarded-allow-ips",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="comma-separated addresses or networks of trusted proxies (default: 127.0.0.1); implies --proxy-headers",
    )
    commands.add_parser("config", help="print the effective configuration, secrets masked")

    migrate = commands.add_parser("migrate", help="apply the versioned schema migrations to the configured database")
    migrate.add_argument("--check", action="store_true", help="apply nothing; exit 1 when some are pending")
    commands.add_parser("demo", help="load demo customers and orders; print an API key and a customer token")

    apikey = commands.add_parser("apikey", help="manage API keys").add_subparsers(dest="action", required=True)
    create = apikey.add_parser("create", help="print a new API key once")
    create.add_argument("--scope", action="append", required=True, dest="scopes")
    create.add_argument("--name", default="unnamed")

    rules_command.add_parser(commands)
    import_command.add_parser(commands)

    jobs = commands.add_parser("jobs", help="run scheduled jobs").add_subparsers(dest="action", required=True)
    run = jobs.add_parser("run", help="run the scheduled jobs once (all of them, or the one named)")
    run.add_argument("name", nargs="?", help="one job (points-release, points-expiry, ...); all when omitted")
    run.add_argument(
        "--at",
        type=_moment,
        help="run as of this time (ISO 8601, e.g. 2026-03-01T09:00:00+01:00; UTC when no offset): replays a day",
    )

    webhooks = commands.add_parser("webhooks", help="webhook delivery").add_subparsers(dest="action", required=True)
    webhooks.add_parser("deliver", help="deliver webhooks until stopped (loyalty serve also does)")

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"loyalty: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "config":
        for variable, value in settings.described():
            print(f"{variable}={value}")
        return 0
    if args.command == "migrate":
        return asyncio.run(_migrate(settings, check=args.check))
    if args.command == "demo":
        from app.demo import load_demo

        return asyncio.run(load_demo(settings))
    if args.command == "apikey":
        return asyncio.run(_create_key(settings, args.name, args.scopes))
    if args.command == "rules":
        return rules_command.run(settings, args)
    if args.command == "jobs":
        return asyncio.run(_run_jobs(settings, args.name, args.at))
    if args.command == "import":
        return asyncio.run(import_command.run(settings, args))
    if args.command == "webhooks":
        return asyncio.run(_deliver_webhooks(settings))
    return 2


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.logging_setup import configure, uvicorn_log_config

    configure(settings.log_format)
    host, port, workers = args.host, args.port, args.workers
    if settings.is_sqlite and workers > 1:
        print("loyalty: SQLite serves one worker; use PostgreSQL for --workers > 1", file=sys.stderr)
        return 2
    if not settings.is_sqlite:
        from app.database_admin import DatabaseNotReady, check_migrated

        try:
            asyncio.run(check_migrated(settings.database_url))
        except DatabaseNotReady as error:
            print(f"loyalty: {error}", file=sys.stderr)
            return 1
    if problem := asyncio.run(_event_bus_problem(settings)):
        print(f"loyalty: {problem}", file=sys.stderr)
        return 1
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Set before any worker starts (they inherit it): prometheus-client then keeps
        # each worker's values in files that /metrics sums.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="loyalty-metrics-")
    if not settings.production:
        print(f"GraphiQL: http://{host}:{port}{args.root_path}/graphql", flush=True)
    # Each worker reads its settings anew; this is how they learn how many share the database.
    os.environ["LOYALTY_WORKERS"] = str(workers)
    uvicorn.run(
        "api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(settings.log_format),
        access_log=False,  # the service logs one line per request itself (api/observed.py)
        root_path=args.root_path,
        # Off unless asked: a client could otherwise name any address in X-Forwarded-For
        # to a service reached without a proxy. Naming the proxies asks for it too.
        proxy_headers=args.proxy_headers or args.forwarded_allow_ips is not None,
        forwarded_allow_ips=args.forwarded_allow_ips,
        # What is still running when the drain (api/lifecycle.py) hands over gets this long.
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
    )
    return 0


async def _migrate(settings: Settings, *, check: bool = False) -> int:
    from app.database_admin import DatabaseUnreachable, check_reachable, migrate, pending_migrations

    where = settings.database_url.split("@")[-1]
    try:
        await check_reachable(settings.database_url)
    except DatabaseUnreachable as error:
        print(f"loyalty: {error}", file=sys.stderr)
        return 1
    if check:
        pending = await pending_migrations(settings.database_url)
        for name in pending:
            print(f"pending: {name}")
        print(f"{where}: {len(pending)} migrations pending" if pending else f"{where}: migrated")
        return 1 if pending else 0
    await migrate(settings.database_url)
    print(f"migrated {where}")
    return 0


async def _create_key(settings: Settings, name: str, scopes: list[str]) -> int:
    from app.bootstrap import running_services
    from app.credentials import create_api_key
    from domain.errors import DomainError

    async with running_services(settings) as services:
        try:
            key = await create_api_key(services.uow, name, scopes)
        except DomainError as error:
            print(f"loyalty: {error.message}", file=sys.stderr)
            return 2
    print(key)
    return 0


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _run_jobs(settings: Settings, name: str | None, at: datetime | None) -> int:
    from app.bootstrap import running_services
    from app.clock import utcnow
    from app.scheduler import run_jobs
    from domain.errors import DomainError

    async with running_services(settings) as services:
        try:
            outcomes = await run_jobs(services.uow, name, at or utcnow(), services.program)
        except DomainError as error:
            print(f"loyalty: {error.message}", file=sys.stderr)
            return 2
    for outcome in outcomes:
        print(outcome.summary())
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


async def _deliver_webhooks(settings: Settings) -> int:
    """The outbox tail and the delivery worker of `loyalty serve`, without the API."""
    from app.bootstrap import running_services

    if problem := await _event_bus_problem(settings):
        print(f"loyalty: {problem}", file=sys.stderr)
        return 1
    async with running_services(settings, serve_events=True):
        print("delivering webhooks; stop with Ctrl-C", flush=True)
        await asyncio.Event().wait()
    return 0


async def _event_bus_problem(settings: Settings) -> str | None:
    """Why the configured Redis event bus cannot be used now (said before serving, not as a
    failed start-up in every worker)."""
    if not settings.event_bus:
        return None
    from app.redis_bus import EventBusUnavailable, check_reachable

    try:
        await check_reachable(settings.event_bus)
    except EventBusUnavailable as error:
        return str(error)
    return None


if __name__ == "__main__":
    sys.exit(main())
