"""Leases that let one runner at a time run each job, and the record of every run.

Each statement commits on its own: a lease is a row, not a held lock, so no pooled
connection is tied up while a job runs, and a runner killed half-way leaves a lease that
runs out by itself (the job's own unique indexes make its rerun write only what is left).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persistence import sql
from persistence.statements import named


async def take(name: str, holder: str, *, now: datetime, until: datetime, due_by: datetime) -> bool:
    """Takes the lease on `name` when it is free (expired) and the job is due by `due_by`."""
    rows = await sql.fetch_named(
        named(
            "INSERT INTO job_leases (name, holder, leased_until, next_run_at) VALUES (:name, :holder, :until, :now)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until"
            " WHERE job_leases.leased_until <= :now AND job_leases.next_run_at <= :due_by RETURNING holder"
        ),
        {"name": name, "holder": holder, "until": until, "now": now, "due_by": due_by},
    )
    return bool(rows)


async def give_back(name: str, holder: str, *, now: datetime, next_run_at: datetime | None) -> None:
    """Frees the lease; `next_run_at` None keeps the schedule as it was (a run by hand)."""
    await sql.execute_named(
        named(
            "UPDATE job_leases SET leased_until = :now, next_run_at = COALESCE(:next_run_at, next_run_at)"
            " WHERE name = :name AND holder = :holder"
        ),
        {"now": now, "next_run_at": next_run_at, "name": name, "holder": holder},
    )


async def start_run(name: str, holder: str, *, as_of: datetime, now: datetime) -> int:
    rows = await sql.fetch_named(
        named(
            "INSERT INTO job_runs (name, holder, as_of, started_at, status, customers, entries, points)"
            " VALUES (:name, :holder, :as_of, :now, 'running', 0, 0, 0) RETURNING id"
        ),
        {"name": name, "holder": holder, "as_of": as_of, "now": now},
    )
    return int(rows[0]["id"])


async def finish_run(
    run_id: int,
    *,
    now: datetime,
    status: str,
    customers: int = 0,
    entries: int = 0,
    points: int = 0,
    error: str | None = None,
) -> None:
    await sql.execute_named(
        named(
            "UPDATE job_runs SET finished_at = :now, status = :status, customers = :customers, entries ="
            " :entries, points = :points, error = :error"
            " WHERE id = :run_id"
        ),
        {
            "now": now,
            "status": status,
            "customers": customers,
            "entries": entries,
            "points": points,
            "error": error,
            "run_id": run_id,
        },
    )


@dataclass(frozen=True)
class JobRunRow:
    name: str
    status: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    customers: int
    entries: int
    points: int
    error: str | None


async def latest_runs() -> list[JobRunRow]:
    """The last run of each job (for health and metrics)."""
    rows = await sql.fetch(
        "SELECT name, status, as_of, started_at, finished_at, customers, entries, points, error FROM job_runs"
        " WHERE id IN (SELECT MAX(id) FROM job_runs GROUP BY name) ORDER BY name"
    )
    return [_run(row) for row in rows]


def _run(row: dict[str, Any]) -> JobRunRow:
    return JobRunRow(
        name=row["name"],
        status=row["status"],
        as_of=_moment(row["as_of"]),
        started_at=_moment(row["started_at"]),
        finished_at=_moment(row["finished_at"]) if row["finished_at"] is not None else None,
        customers=int(row["customers"]),
        entries=int(row["entries"]),
        points=int(row["points"]),
        error=row["error"],
    )


def _moment(value: datetime | str) -> datetime:
    # SQLite hands times back as text.
    return sql.as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))
