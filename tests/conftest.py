"""Shared fixtures: a real database (SQLite, and PostgreSQL when configured) and a real
server on it, driven over HTTP as clients drive it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from strawberry.extensions import SchemaExtension

from api.app import create_app
from app.settings import Settings
from persistence.unit_of_work import UnitOfWork

POSTGRES_URL = os.environ.get("LOYALTY_TEST_POSTGRES_URL")
ON_CI = os.environ.get("CI") == "true"
BOOTSTRAP_KEY = "test-bootstrap-key-" + uuid.uuid4().hex
REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_RULES_DIR = REPO_ROOT / "tests" / "fixtures" / "rules"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def postgres_or_skip() -> str:
    if not POSTGRES_URL:
        if ON_CI:
            pytest.fail("CI must test PostgreSQL: set LOYALTY_TEST_POSTGRES_URL")
        pytest.skip("PostgreSQL not configured (set LOYALTY_TEST_POSTGRES_URL)")
    return POSTGRES_URL


async def reset_postgres(url: str) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_env(database_url: str, rules_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `loyalty serve` subprocess on the test database."""
    return {
        **os.environ,
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "LOYALTY_RULES_DIR": str(rules_dir),
        "LOYALTY_ENV": "test",
        **extra,
    }


def make_settings(database_url: str, **overrides: str) -> Settings:
    env = {
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "LOYALTY_ENV": "test",
        "LOYALTY_RULES_DIR": str(TEST_RULES_DIR),
        # Every server on a test database may deliver any webhook, and the tests' own
        # receivers listen on loopback (tests of the refusal turn it off for themselves).
        "LOYALTY_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        # Any of them may take a delivery: all give up on a silent receiver equally soon.
        "LOYALTY_WEBHOOKS_TIMEOUT_SECONDS": "1",
        **overrides,
    }
    return Settings.from_env(env)


@dataclass
class Server:
    url: str
    database_url: str
    settings: Settings
    app: Starlette | None = None

    def client(self, token: str | None = BOOTSTRAP_KEY) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    @property
    def uow(self) -> UnitOfWork:
        """The server's own unit of work, for a test that calls a use case directly."""
        assert self.app is not None, "a server of another process: open a unit of work on its database"
        return self.app.state.services.uow


# One database per test process: Tortoise caches SQL per model for the first dialect it
# meets, so scripts/test runs the suite once per database (LOYALTY_TEST_DATABASE).
TEST_DATABASE = os.environ.get("LOYALTY_TEST_DATABASE", "sqlite")


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE == "sqlite":
        return f"sqlite://{tmp_path_factory.mktemp('db') / 'loyalty.db'}"
    url = postgres_or_skip()
    await reset_postgres(url)
    from persistence.database import migrate

    await migrate(url)
    return url


@contextlib.asynccontextmanager
async def running_server(
    settings: Settings,
    *,
    watch_rules: bool = False,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
    port: int | None = None,
    **uvicorn_options: object,
) -> AsyncIterator[Server]:
    """The real ASGI app under uvicorn, in this process and event loop, on a free port
    (`uvicorn_options` as `loyalty serve` passes them: root_path, proxy_headers...)."""
    app = create_app(settings, watch_rules=watch_rules, extensions=extensions)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port or free_port(),
        log_level="warning",
        lifespan="on",
        **uvicorn_options,  # type: ignore[arg-type]
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{config.port}", settings.database_url, settings, app)
    finally:
        uv.should_exit = True
        await task


@pytest.fixture(scope="session")
async def server(database_url: str) -> AsyncIterator[Server]:
    async with running_server(make_settings(database_url)) as running:
        yield running


@pytest.fixture
async def admin(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as client:
        yield client
