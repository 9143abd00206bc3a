"""Webhook endpoints: which URLs may be called, which event types they take, and when a
failed delivery is tried again. Plain rules; the sending is in app/delivery.py."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from domain.errors import DomainError, DomainErrors, ErrorCode

MAX_URL_LENGTH = 2000

# After attempt n fails, attempt n+1 comes this long after it (Standard Webhooks suggests
# a schedule over about three days: this one spans 3 days and 3.6 hours in 11 attempts).
# Each wait is jittered by up to a fifth either way, so endpoints that failed together are
# not retried in one burst; the first retry still comes within 10 s (4 to 6 s).
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
JITTER = 0.2
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def retry_delay(failed_attempt: int, rng: random.Random | None = None) -> timedelta | None:
    """The wait after attempt `failed_attempt` (1-based) failed; None when none is left."""
    if failed_attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[failed_attempt - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return base * factor


# The cloud metadata services (AWS, GCP, Azure: 169.254.169.254; AWS over IPv6) are
# link-local or private already; they are named so that a future change cannot let them in.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


def refused_address(address: str) -> str | None:
    """Why an address may not receive webhooks, or None when it is a public one."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified or not ip.is_global:
        return "a private or reserved address"
    return None


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    host: str


def validate_url(url: str, *, allow_private: bool, field: list[str]) -> WebhookTarget:
    """The URL's form (https, a host, no credentials); where it points is checked after
    resolving (app.webhooks), at registration and again at every delivery."""
    parts = urlsplit(url or "")
    problem = None
    if len(url) > MAX_URL_LENGTH:
        problem = f"A webhook URL has at most {MAX_URL_LENGTH} characters."
    elif parts.scheme not in ("https", "http") or not parts.hostname:
        problem = f"'{url}' is not an absolute http(s) URL."
    elif parts.scheme == "http" and not allow_private:
        problem = "A webhook URL must use https."
    elif parts.username or parts.password:
        problem = "A webhook URL may not carry credentials; verify deliveries by their signature instead."
    else:
        try:
            parts.port  # noqa: B018 -- raises on a port out of range
        except ValueError:
            problem = f"'{url}' has an invalid port."
    if problem:
        raise DomainError(ErrorCode.INVALID, problem, field)
    assert parts.hostname
    return WebhookTarget(url=url, host=parts.hostname)


def validate_event_types(types: Sequence[str] | None, known: Sequence[str], field: list[str]) -> list[str] | None:
    """None means every type; an empty list would deliver nothing, so it is refused."""
    if types is None:
        return None
    if not types:
        raise DomainError(ErrorCode.INVALID, "Name at least one event type, or leave eventTypes out for all.", field)
    errors = [
        DomainError(
            ErrorCode.INVALID,
            f"'{t}' is not an event type; one of: {', '.join(known)}.",
            [*field, str(i)],
        )
        for i, t in enumerate(types)
        if t not in known
    ]
    if errors:
        raise DomainErrors(errors)
    return sorted(set(types))
