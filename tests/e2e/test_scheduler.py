"""The scheduler: jobs run themselves, one runner at a time, as of the (movable) clock; and
`loyalty jobs run --at` replays a day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from app.clock import clock, utcnow
from app.scheduler import Scheduler, run_jobs, run_once
from persistence import job_leases
from tests.conftest import unique
from tests.e2e.conftest import PENDING_DAYS, program_of, uow_of
from tests.e2e.test_jobs import customer_with_pending_points, outbox, points


async def test_a_moved_clock_lets_the_scheduler_release_pending_points_once(pending_server):
    customer = await customer_with_pending_points(pending_server, "100.00")
    scheduler = Scheduler(uow_of(pending_server), lambda: program_of(pending_server), every=timedelta(0))
    try:
        clock.advance(timedelta(days=PENDING_DAYS + 1))
        await scheduler.tick()
        await scheduler.tick()
    finally:
        clock.reset()

    assert await points(pending_server, customer) == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    assert [event["points"] for event in await outbox(customer, "points.pending_released")] == [100]


async def test_two_schedulers_at_once_run_each_job_once(pending_server):
    name = "points-release"
    outcomes = await asyncio.gather(
        *(
            run_once(
                uow_of(pending_server),
                name,
                utcnow(),
                program_of(pending_server),
                holder=unique("holder"),
                only_when_due=False,
            )
            for _ in range(2)
        )
    )

    assert sorted(outcome.status for outcome in outcomes) in (["held", "succeeded"], ["succeeded", "succeeded"])
    # Whoever ran second found the lease given back; never both inside it at once.
    runs = [run for run in await job_leases.latest_runs() if run.name == name]
    assert runs and runs[0].status == "succeeded"


async def test_a_held_lease_is_not_run_until_it_runs_out(pending_server):
    name = "points-expiry"
    now = datetime.now(UTC)
    assert await job_leases.take(name, "killed-runner", now=now, until=now + timedelta(hours=1), due_by=now)

    held = await run_jobs(uow_of(pending_server), name, utcnow(), program_of(pending_server))
    assert [outcome.status for outcome in held] == ["held"]

    # The runner was killed: its lease runs out and the next runner goes ahead.
    await job_leases.give_back(name, "killed-runner", now=now, next_run_at=now)
    ran = await run_jobs(uow_of(pending_server), name, utcnow(), program_of(pending_server))
    assert [outcome.status for outcome in ran] == ["succeeded"]


async def test_a_job_not_yet_due_waits_for_its_turn_and_a_run_by_hand_keeps_the_schedule(pending_server):
    name = "points-release"
    uow = uow_of(pending_server)
    hourly = Scheduler(uow, lambda: program_of(pending_server), every=timedelta(hours=1))
    await job_leases.give_back(name, "test", now=datetime.now(UTC), next_run_at=datetime.now(UTC))
    await job_leases.take(name, "test", now=datetime.now(UTC), until=datetime.now(UTC), due_by=datetime.now(UTC))

    program = program_of(pending_server)
    first = await run_once(uow, name, utcnow(), program, holder=hourly.holder, every=hourly.every, only_when_due=True)
    by_hand = await run_jobs(uow, name, utcnow(), program)
    again = await run_once(uow, name, utcnow(), program, holder=hourly.holder, every=hourly.every, only_when_due=True)

    assert (first.status, by_hand[0].status, again.status) == ("succeeded", "succeeded", "held")
    # Put back on schedule for the other tests.
    await job_leases.give_back(name, hourly.holder, now=datetime.now(UTC), next_run_at=datetime.now(UTC))
