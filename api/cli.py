"""The `loyalty` command: serve, migrate, demo, apikey, rules, jobs."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from app.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loyalty", description="The loyalty service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (GraphQL at /graphql, health at /health)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    migrate = commands.add_parser("migrate", help="apply the versioned schema migrations to the configured database")
    migrate.add_argument("--check", action="store_true", help="apply nothing; exit 1 when some are pending")
    commands.add_parser("demo", help="load demo customers and orders; print an API key and a customer token")

    apikey = commands.add_parser("apikey", help="manage API keys").add_subparsers(dest="action", required=True)
    create = apikey.add_parser("create", help="print a new API key once")
    create.add_argument("--scope", action="append", required=True, dest="scopes")
    create.add_argument("--name", default="unnamed")

    rules = commands.add_parser("rules", help="check and test rule files").add_subparsers(dest="action", required=True)
    for name, text in (("check", "validate a rules folder"), ("test", "run the scenario files of a rules folder")):
        sub = rules.add_parser(name, help=text)
        sub.add_argument("dir", nargs="?", type=Path)

    jobs = commands.add_parser("jobs", help="run scheduled jobs").add_subparsers(dest="action", required=True)
    run = jobs.add_parser("run", help="run the scheduled jobs once (all of them, or the one named)")
    run.add_argument("name", nargs="?", help="points-release or points-expiry; all when omitted")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.workers)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings, check=args.check))
    if args.command == "demo":
        from app.demo import load_demo

        return asyncio.run(load_demo(settings))
    if args.command == "apikey":
        return asyncio.run(_create_key(settings, args.name, args.scopes))
    if args.command == "rules":
        from rules import check_folder, run_scenarios

        folder = args.dir or settings.rules_dir
        return check_folder(folder) if args.action == "check" else run_scenarios(folder)
    if args.command == "jobs":
        return asyncio.run(_run_jobs(settings, args.name))
    return 2


def _serve(settings: Settings, host: str, port: int, workers: int) -> int:
    import uvicorn

    if settings.is_sqlite and workers > 1:
        print("loyalty: SQLite serves one worker; use PostgreSQL for --workers > 1", file=sys.stderr)
        return 2
    if not settings.is_sqlite:
        from app.bootstrap import DatabaseNotMigrated, check_migrated

        try:
            asyncio.run(check_migrated(settings.database_url))
        except DatabaseNotMigrated as error:
            print(f"loyalty: {error}", file=sys.stderr)
            return 1
    if not settings.production:
        print(f"GraphiQL: http://{host}:{port}/graphql", flush=True)
    # Each worker reads its settings anew; this is how they learn how many share the database.
    os.environ["LOYALTY_WORKERS"] = str(workers)
    uvicorn.run(
        "api.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
    return 0


async def _migrate(settings: Settings, *, check: bool = False) -> int:
    from app.bootstrap import migrate, pending_migrations

    where = settings.database_url.split("@")[-1]
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


async def _run_jobs(settings: Settings, name: str | None) -> int:
    from app.bootstrap import running_services
    from app.clock import utcnow
    from app.jobs import run_jobs
    from domain.errors import DomainError

    async with running_services(settings) as services:
        try:
            reports = await run_jobs(services.uow, name, utcnow())
        except DomainError as error:
            print(f"loyalty: {error.message}", file=sys.stderr)
            return 2
    for report in reports:
        print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
