"""The service's Prometheus metrics, defined once per process.

With several workers, `loyalty serve` sets PROMETHEUS_MULTIPROC_DIR before any worker
starts, and prometheus-client then keeps each value in a file per process that /metrics
sums (api/metrics.py). Gauges say how they are summed across processes.
"""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram

# Request latency from a few milliseconds (a cached query) to the grace period.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "loyalty_requests",
    "GraphQL requests, by operation (root fields, which the schema bounds) and outcome.",
    ["operation", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "loyalty_request_duration_seconds",
    "Time to answer a GraphQL request, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
RULES_VERSION = Gauge(
    "loyalty_rules_version_info",
    "1 for the rules version in force.",
    ["version"],
    multiprocess_mode="max",
)
RULES_RELOAD_FAILURES = Counter(
    "loyalty_rules_reload_failures", "Rule folder reloads refused (the version in force stayed)."
)
LEDGER_WRITES = Counter("loyalty_ledger_entries_written", "Ledger entries appended, by what wrote them.", ["source"])
JOB_RUNS = Counter("loyalty_job_runs", "Scheduled job runs, by job and outcome.", ["job", "outcome"])
JOB_SECONDS = Histogram(
    "loyalty_job_duration_seconds", "Time a job run took.", ["job"], buckets=(0.1, 1, 10, 60, 300, 1800, 3600)
)
POOL_CONNECTIONS = Gauge(
    "loyalty_db_pool_connections",
    "Database pool connections by state (in_use, idle) and the pool's max.",
    ["state"],
    multiprocess_mode="livesum",
)
IN_FLIGHT = Gauge("loyalty_requests_in_flight", "Requests being answered.", multiprocess_mode="livesum")


def ledger_written(source: str, entries: int) -> None:
    if entries:
        _ledger_writes(source).inc(entries)


@functools.cache
def _ledger_writes(source: str) -> Counter:
    """The labelled child, kept: `labels()` validates and locks on every call."""
    return LEDGER_WRITES.labels(source)


def rules_version_changed(old: str | None, new: str) -> None:
    if old and old != new:
        RULES_VERSION.labels(old).set(0)
    RULES_VERSION.labels(new).set(1)
