"""Every setting, read from the environment (or a `.env` file) in one typed place.

Each value is checked here, at start, and a bad one is named with the form it should
take (`ConfigError`), rather than surfacing later as a bare `int()` error."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

from dotenv import load_dotenv
from starlette.datastructures import Secret

from rules import DEMO_RULES_DIR

DEFAULT_DATABASE_URL = "sqlite://./loyalty.db"
DATABASE_SCHEMES = ("sqlite://", "postgres://", "asyncpg://", "psycopg://")
LOOPBACK = "127.0.0.0/8,::1/128"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")
_ON = ("on", "1", "true", "yes")
_OFF = ("off", "0", "false", "no")
_ENVS = ("development", "test", "production")
_URL_FORM = "a Tortoise URL: " + ", ".join(f"{scheme}…" for scheme in DATABASE_SCHEMES)
_VARIABLES = {"request_metrics": "LOYALTY_METRICS", "env": "LOYALTY_ENV"}
_NETWORKS_FORM = "comma-separated addresses or networks (CIDR), e.g. 127.0.0.1,10.0.0.0/8"
# RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits); PyJWT only warns.
MIN_TOKEN_SECRET_BYTES = 32


class ConfigError(ValueError):
    """A setting's value is not of the form it must take; the message names both."""


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
    webhooks_allow_private_targets: bool = False
    webhooks_timeout_seconds: float = 10.0
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
    cors_origins: tuple[str, ...] = ()
    """Origins whose pages may call the API from a browser (`*`: any); none by default."""
    scheduler: bool = True
    """Run the scheduled jobs from `loyalty serve` (LOYALTY_SCHEDULER=0 to leave them to
    `loyalty jobs run`); off by default in tests, which run jobs as of the times they choose."""
    jobs_every_seconds: int = 300
    """How often each scheduled job runs."""
    metrics_allow: tuple[Network, ...] = ()
    """Networks whose clients may read /metrics."""
    log_format: str = "json"
    request_metrics: bool = True
    """Off only to measure what metrics cost (bench/)."""
    access_log: bool = True
    """One line per request; off only to measure what it costs (bench/)."""
    shutdown_grace_seconds: float = 30.0
    """After SIGTERM: how long requests in flight and queued get to finish."""
    event_bus: str | None = None
    """A Redis URL (LOYALTY_EVENT_BUS=redis://host:6379/0): workers tell each other of new
    events, endpoint changes and rules versions through Redis pub/sub instead of PostgreSQL's
    LISTEN/NOTIFY. Unset: LISTEN/NOTIFY on PostgreSQL, in process on SQLite."""
    shutdown_drain_seconds: float = 0.0
    """After SIGTERM: how long to keep serving while reporting not ready (a load balancer's
    probe period), before no longer accepting connections."""

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Raises ConfigError naming the variable and the form it must take."""
        if environ is None:
            load_dotenv(Path.cwd() / ".env", override=False)
            environ = dict(os.environ)
        read = _Reader(environ)
        bootstrap = environ.get("LOYALTY_BOOTSTRAP_API_KEY")
        secret = environ.get("LOYALTY_TOKEN_SECRET")
        if secret is not None and len(secret.encode()) < MIN_TOKEN_SECRET_BYTES:
            raise ConfigError(
                f"LOYALTY_TOKEN_SECRET must be at least {MIN_TOKEN_SECRET_BYTES} bytes (HS256 needs a 256-bit key), "
                f"not {len(secret.encode())} bytes; e.g. the output of: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        env = read("LOYALTY_ENV", "development", _one_of(*_ENVS), "development, test or production")
        return cls(
            database_url=read("LOYALTY_DATABASE_URL", DEFAULT_DATABASE_URL, _database_url, _URL_FORM),
            rules_dir=Path(environ.get("LOYALTY_RULES_DIR", str(DEMO_RULES_DIR))),
            bootstrap_api_key=Secret(bootstrap) if bootstrap else None,
            token_secret=Secret(secret) if secret else None,
            env=env,
            token_ttl_seconds=read.count("LOYALTY_TOKEN_TTL_SECONDS", "86400", minimum=1),
            max_query_depth=read.count("LOYALTY_MAX_QUERY_DEPTH", "10", minimum=1),
            max_aliases=read.count("LOYALTY_MAX_ALIASES", "15", minimum=1),
            max_tokens=read.count("LOYALTY_MAX_TOKENS", "2000", minimum=1),
            max_body_bytes=read.count("LOYALTY_MAX_BODY_BYTES", str(1024 * 1024), minimum=1),
            max_query_bytes=read.count("LOYALTY_MAX_QUERY_BYTES", str(100 * 1024), minimum=1),
            max_directives=read.count("LOYALTY_MAX_DIRECTIVES", "4", minimum=0),
            max_errors=read.count("LOYALTY_MAX_ERRORS", "20", minimum=1),
            document_cache_bytes=read.count("LOYALTY_DOCUMENT_CACHE_BYTES", str(4 * 1024 * 1024), minimum=0),
            webhooks_allow_private_targets=read.flag("LOYALTY_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "false"),
            webhooks_timeout_seconds=read.seconds("LOYALTY_WEBHOOKS_TIMEOUT_SECONDS", "10"),
            workers=read.count("LOYALTY_WORKERS", "1", minimum=1),
            rules_watch=read.flag("LOYALTY_RULES_WATCH", "1"),
            rules_quiet_ms=read.count("LOYALTY_RULES_QUIET_MS", "2000", minimum=0),
            rules_sync_ms=read.count("LOYALTY_RULES_SYNC_MS", "500", minimum=1),
            auth_failure_limit=read.count("LOYALTY_AUTH_FAILURE_LIMIT", "10", minimum=0),
            auth_failure_window_seconds=read.count("LOYALTY_AUTH_FAILURE_WINDOW_SECONDS", "60", minimum=1),
            metrics_allow=read("LOYALTY_METRICS_ALLOW", LOOPBACK, _networks, _NETWORKS_FORM),
            log_format=read("LOYALTY_LOG_FORMAT", _default_log_format(), _one_of("json", "text"), "json or text"),
            request_metrics=read.flag("LOYALTY_METRICS", "on"),
            access_log=read.flag("LOYALTY_ACCESS_LOG", "on"),
            shutdown_grace_seconds=read.seconds("LOYALTY_SHUTDOWN_GRACE_SECONDS", "30"),
            shutdown_drain_seconds=read.seconds("LOYALTY_SHUTDOWN_DRAIN_SECONDS", "0"),
            event_bus=read("LOYALTY_EVENT_BUS", "", _redis_url, "a Redis URL: redis://host:6379/0 or rediss://…")
            or None,
            scheduler=read.flag("LOYALTY_SCHEDULER", "off" if env == "test" else "on"),
            jobs_every_seconds=read.count("LOYALTY_JOBS_EVERY_SECONDS", "300", minimum=1),
            cors_origins=read(
                "LOYALTY_CORS_ORIGINS", "", _origins, "origins, comma-separated (scheme://host:port), or *"
            ),
        )

    def described(self) -> list[tuple[str, str]]:
        """(variable, effective value) for `loyalty config`: secrets masked, the database password too."""
        described = []
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None:
                shown = "(unset)"
            elif isinstance(value, bool):
                shown = "on" if value else "off"
            elif isinstance(value, Secret):
                shown = repr(value)  # Secret('**********'): never the value
            elif field.name in ("database_url", "event_bus"):
                shown = mask_password(value)
            elif field.name == "metrics_allow":
                shown = ",".join(str(network) for network in value)
            else:
                shown = str(value)
            described.append((_VARIABLES.get(field.name, "LOYALTY_" + field.name.upper()), shown))
        return described


def mask_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:********@{host}"


def _default_log_format() -> str:
    # People read a terminal; collectors read everything else.
    return "text" if os.isatty(2) else "json"


class _Reader:
    def __init__(self, environ: dict[str, str]):
        self.environ = environ

    def __call__(self, name: str, default: str, parse: Callable[[str], T], form: str) -> T:
        raw = self.environ.get(name, default)
        try:
            return parse(raw.strip())
        except ValueError:
            raise ConfigError(f"{name} must be {form}, not {raw!r}") from None

    def count(self, name: str, default: str, *, minimum: int) -> int:
        def parse(raw: str) -> int:
            value = int(raw)
            if value < minimum:
                raise ValueError(raw)
            return value

        return self(name, default, parse, f"a whole number of at least {minimum}")

    def seconds(self, name: str, default: str) -> float:
        def parse(raw: str) -> float:
            value = float(raw)
            if not 0 <= value <= 3600:
                raise ValueError(raw)
            return value

        return self(name, default, parse, "a number of seconds from 0 to 3600")

    def flag(self, name: str, default: str) -> bool:
        return self(name, default, _one_of(*_ON, *_OFF), "on or off (1/0, true/false, yes/no)") in _ON


def _one_of(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(raw)
        return raw

    return parse


def _database_url(raw: str) -> str:
    if not raw.startswith(DATABASE_SCHEMES):
        raise ValueError(raw)
    return raw


def _redis_url(raw: str) -> str:
    if raw and not raw.startswith(("redis://", "rediss://")):
        raise ValueError(raw)
    return raw


def _networks(raw: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())


def _origins(value: str) -> tuple[str, ...]:
    """`https://shop.example.com,http://localhost:3000`, or `*` for any origin. An origin is a
    scheme and a host (and a port), never a path: a browser sends exactly that."""
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if origin == "*":
            continue
        scheme, sep, host = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not host or "/" in host:
            raise ValueError(
                f"LOYALTY_CORS_ORIGINS: {origin!r} is not an origin; write scheme://host[:port],"
                " e.g. https://shop.example.com"
            )
    return origins
