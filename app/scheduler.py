"""Runs every job in `app.jobs.JOBS` on its own, one runner at a time across workers and hosts.

Each worker of `loyalty serve` ticks every few seconds; at a tick, each job that is due
(its `next_run_at` has come) is run by whichever worker takes its lease first. The lease
is a row (`persistence.job_leases`) taken and given back by single statements, so no pooled
connection is held while a job runs. A job killed half-way leaves its lease to run out
(`lease`); one stopped by a shutdown (its task cancelled: the batch in flight rolls back)
records the run as 'stopped' and gives its lease back, due at once. Whoever runs it next
writes only what is left, because every job relates what it writes to what it acts on
under unique indexes.

`loyalty jobs run` goes through the same leases (a job another runner holds is reported
as held, not run twice) and records its runs in `job_runs` like the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.clock import utcnow, wall_now
from app.jobs import JOBS, JobReport, job_named, run_job
from persistence.unit_of_work import UnitOfWork
from rules import Program

log = logging.getLogger("loyalty.jobs")

DEFAULT_EVERY = timedelta(minutes=5)
DEFAULT_LEASE = timedelta(minutes=30)
"""Longer than any run: a lease that runs out while its job still runs lets a second
runner start (harmless for the ledger, wasted work)."""
_FOREVER = timedelta(days=365 * 100)
STOP_WRITES_SECONDS = 5.0
"""The most a stopped run spends recording that it stopped and giving its lease back."""


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RunOutcome:
    name: str
    status: str
    """'succeeded', 'failed', or 'held' (another runner holds the lease, or it is not due).
    In `job_runs` a run may also be 'running', or 'stopped' (by a shutdown, half-way)."""
    report: JobReport | None = None
    error: str | None = None

    def summary(self) -> str:
        if self.report is not None:
            return self.report.summary()
        if self.status == "held":
            return f"{self.name}: not run, another runner holds it"
        return f"{self.name}: failed: {self.error}"


async def run_once(
    uow: UnitOfWork,
    name: str,
    as_of: datetime,
    program: Program,
    *,
    holder: str,
    every: timedelta = DEFAULT_EVERY,
    lease: timedelta = DEFAULT_LEASE,
    only_when_due: bool = False,
) -> RunOutcome:
    """Runs job `name` as of `as_of` if its lease is free (and, for the scheduler, it is due)."""
    job_named(name)  # an unknown name is refused before any lease is taken
    started = wall_now()
    due_by = started if only_when_due else started + _FOREVER
    # Each lease statement is a session of its own: none is held while the job runs.
    async with uow.transaction() as session:
        if not await session.job_leases.take(name, holder, now=started, until=started + lease, due_by=due_by):
            return RunOutcome(name, "held")
    async with uow.transaction() as session:
        run_id = await session.job_leases.start_run(name, holder, as_of=as_of, now=started)
    try:
        report = await run_job(uow, name, as_of, program)
    except asyncio.CancelledError:
        # Shutdown (or Ctrl-C on `jobs run`): the batch in flight rolled back and every
        # batch before it committed, so the rest is due now, for whichever runner is next.
        await _stopped(uow, name, holder, run_id, next_run_at=wall_now() if only_when_due else None)
        raise
    except Exception as error:  # noqa: BLE001 - recorded and logged; the next run retries it
        log.exception("job %s failed", name)
        async with uow.transaction() as session:
            await session.job_leases.finish_run(run_id, now=wall_now(), status="failed", error=repr(error))
            # A run by hand (`jobs run`) leaves the schedule as it was.
            await session.job_leases.give_back(
                name, holder, now=wall_now(), next_run_at=started + every if only_when_due else None
            )
        return RunOutcome(name, "failed", error=repr(error))
    async with uow.transaction() as session:
        await session.job_leases.give_back(
            name, holder, now=wall_now(), next_run_at=started + every if only_when_due else None
        )
    async with uow.transaction() as session:
        await session.job_leases.finish_run(
            run_id,
            now=wall_now(),
            status="succeeded",
            customers=report.customers,
            entries=report.entries,
            points=report.points,
        )
    return RunOutcome(name, "succeeded", report)


async def _stopped(uow: UnitOfWork, name: str, holder: str, run_id: int, *, next_run_at: datetime | None) -> None:
    """Records a run stopped half-way and gives its lease back, within STOP_WRITES_SECONDS:
    a database that does not answer must not hold the shutdown (the lease then runs out
    by itself, and the run stays 'running' in `job_runs`)."""
    try:
        async with asyncio.timeout(STOP_WRITES_SECONDS), uow.transaction() as session:
            await session.job_leases.finish_run(run_id, now=wall_now(), status="stopped", error="stopped by shutdown")
            await session.job_leases.give_back(name, holder, now=wall_now(), next_run_at=next_run_at)
    except Exception:  # noqa: BLE001 - TimeoutError or the database's: the lease lapses instead
        log.warning("job %s stopped; its lease could not be given back and runs out by itself", name, exc_info=True)
    else:
        log.info("job %s stopped by shutdown; what is left runs next time", name)


async def run_jobs(
    uow: UnitOfWork, name: str | None, as_of: datetime, program: Program, *, holder: str | None = None
) -> list[RunOutcome]:
    """`loyalty jobs run [NAME] [--at TIME]`: one job, or every job in order, once, as of `as_of`."""
    if name is not None:
        job_named(name)
    names = [name] if name is not None else list(JOBS)
    holder = holder or holder_name()
    return [await run_once(uow, job_name, as_of, program, holder=holder) for job_name in names]


class Scheduler:
    def __init__(
        self,
        uow: UnitOfWork,
        program: Callable[[], Program],
        *,
        every: timedelta = DEFAULT_EVERY,
        tick: timedelta = timedelta(seconds=5),
    ) -> None:
        self.uow = uow
        self.program = program
        """The rules in force at each tick (a reload between ticks is seen by the next)."""
        self.every = every
        self.tick_seconds = tick.total_seconds()
        self.holder = holder_name()

    async def tick(self) -> list[RunOutcome]:
        """Every due job whose lease this runner takes, in `JOBS` order, as of the clock's now."""
        outcomes = []
        for name in list(JOBS):
            outcome = await run_once(
                self.uow, name, utcnow(), self.program(), holder=self.holder, every=self.every, only_when_due=True
            )
            if outcome.status != "held":
                log.info("%s", outcome.summary())
            outcomes.append(outcome)
        return outcomes

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - a database gone for a while must not stop the schedule
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.tick_seconds)
