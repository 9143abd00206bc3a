"""Every setting, read from the environment (or a `.env` file) in one typed place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv
from starlette.datastructures import Secret

from rules import DEMO_RULES_DIR

DEFAULT_DATABASE_URL = "sqlite://./loyalty.db"


@dataclass(frozen=True)
class Settings:
    database_url: str
    rules_dir: Path
    bootstrap_api_key: Secret | None
    token_secret: Secret | None
    env: str
    token_ttl_seconds: int
    max_query_depth: int
    max_aliases: int
    max_tokens: int
    max_body_bytes: int
    max_query_bytes: int
    max_directives: int
    max_errors: int
    document_cache_bytes: int
    workers: int = 1
    """Worker processes sharing the database (`loyalty serve --workers`), for pool sizing."""
    rules_watch: bool = True
    """Watch the rules folder (LOYALTY_RULES_WATCH=0 to reload only through `reloadRules`)."""
    rules_quiet_ms: int = 2000
    """How long the rules folder must stay unchanged before the watcher loads it."""
    rules_sync_ms: int = 500
    """How often a worker checks which rules version the others put in force."""
    auth_failure_limit: int = 10
    """Failed authentications a client may make per window before it is refused (0: no limit)."""
    auth_failure_window_seconds: int = 60

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        if environ is None:
            load_dotenv(Path.cwd() / ".env", override=False)
            environ = dict(os.environ)
        env = environ.get("LOYALTY_ENV", "development")
        if env not in ("development", "production", "test"):
            raise ValueError(f"LOYALTY_ENV must be development, test or production, not {env!r}")
        bootstrap = environ.get("LOYALTY_BOOTSTRAP_API_KEY")
        secret = environ.get("LOYALTY_TOKEN_SECRET")
        return cls(
            database_url=environ.get("LOYALTY_DATABASE_URL", DEFAULT_DATABASE_URL),
            rules_dir=Path(environ.get("LOYALTY_RULES_DIR", str(DEMO_RULES_DIR))),
            bootstrap_api_key=Secret(bootstrap) if bootstrap else None,
            token_secret=Secret(secret) if secret else None,
            env=env,
            token_ttl_seconds=int(environ.get("LOYALTY_TOKEN_TTL_SECONDS", "86400")),
            max_query_depth=int(environ.get("LOYALTY_MAX_QUERY_DEPTH", "10")),
            max_aliases=int(environ.get("LOYALTY_MAX_ALIASES", "15")),
            max_tokens=int(environ.get("LOYALTY_MAX_TOKENS", "2000")),
            max_body_bytes=int(environ.get("LOYALTY_MAX_BODY_BYTES", str(1024 * 1024))),
            max_query_bytes=int(environ.get("LOYALTY_MAX_QUERY_BYTES", str(100 * 1024))),
            max_directives=int(environ.get("LOYALTY_MAX_DIRECTIVES", "4")),
            max_errors=int(environ.get("LOYALTY_MAX_ERRORS", "20")),
            document_cache_bytes=int(environ.get("LOYALTY_DOCUMENT_CACHE_BYTES", str(4 * 1024 * 1024))),
            workers=int(environ.get("LOYALTY_WORKERS", "1")),
            rules_watch=environ.get("LOYALTY_RULES_WATCH", "1") not in ("0", "false", "no"),
            rules_quiet_ms=int(environ.get("LOYALTY_RULES_QUIET_MS", "2000")),
            rules_sync_ms=int(environ.get("LOYALTY_RULES_SYNC_MS", "500")),
            auth_failure_limit=int(environ.get("LOYALTY_AUTH_FAILURE_LIMIT", "10")),
            auth_failure_window_seconds=int(environ.get("LOYALTY_AUTH_FAILURE_WINDOW_SECONDS", "60")),
        )
