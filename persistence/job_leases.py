"""Leases that let one runner at a time run each job, and the record of every run.

Each statement commits on its own: a lease is a row, not a held lock, so no pooled
connection is tied up while a job runs, and a runner killed half-way leaves a lease that
runs out by itself (the job's own unique indexes make its rerun write only what is left).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Max

from persistence import models, sql


async def take(name: str, holder: str, *, now: datetime, until: datetime, due_by: datetime) -> bool:
    """Takes the lease on `name` when it is free (expired) and the job is due by `due_by`."""
    rows = await sql.fetch(
        # Placeholders in textual order, each once: SQLite's are positional `?`.
        "INSERT INTO job_leases (name, holder, leased_until, next_run_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, leased_until = excluded.leased_until"
        " WHERE job_leases.leased_until <= $5 AND job_leases.next_run_at <= $6 RETURNING holder",
        name,
        holder,
        until,
        now,
        now,
        due_by,
    )
    return bool(rows)


async def give_back(name: str, holder: str, *, now: datetime, next_run_at: datetime | None) -> None:
    """Frees the lease; `next_run_at` None keeps the schedule as it was (a run by hand)."""
    await sql.execute(
        "UPDATE job_leases SET leased_until = $1, next_run_at = COALESCE($2, next_run_at)"
        " WHERE name = $3 AND holder = $4",
        now,
        next_run_at,
        name,
        holder,
    )


async def start_run(name: str, holder: str, *, as_of: datetime, now: datetime) -> int:
    rows = await sql.fetch(
        "INSERT INTO job_runs (name, holder, as_of, started_at, status, customers, entries, points)"
        " VALUES ($1, $2, $3, $4, 'running', 0, 0, 0) RETURNING id",
        name,
        holder,
        as_of,
        now,
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
    await sql.execute(
        "UPDATE job_runs SET finished_at = $1, status = $2, customers = $3, entries = $4, points = $5, error = $6"
        " WHERE id = $7",
        now,
        status,
        customers,
        entries,
        points,
        error,
        run_id,
    )


@dataclass(frozen=True)
class JobRunRecord:
    name: str
    status: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    customers: int
    entries: int
    points: int
    error: str | None


async def latest_runs() -> list[JobRunRecord]:
    """The last run of each job (for health and metrics)."""
    last_ids = await models.JobRun.all().group_by("name").annotate(last=Max("id")).values_list("last", flat=True)
    runs = await models.JobRun.filter(id__in=list(last_ids)).order_by("name")
    return [
        JobRunRecord(
            name=run.name,
            status=run.status,
            as_of=sql.as_utc(run.as_of),
            started_at=sql.as_utc(run.started_at),
            finished_at=sql.as_utc(run.finished_at) if run.finished_at else None,
            customers=run.customers,
            entries=run.entries,
            points=run.points,
            error=run.error,
        )
        for run in runs
    ]
