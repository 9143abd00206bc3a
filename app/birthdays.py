"""The birthday job: `customer.birthday` once per customer per year, on the day.

The day is the program's: its date in the rule files' `program.time_zone` (a Paris
customer's birthday starts at midnight in Paris, 22:00 or 23:00 UTC the day before), and
so is the year. A customer born on February 29 is wished a happy birthday on February 28
in the years without one (the last day of February they would otherwise never have). The
event rules (`on: customer.birthday`) reward it as they reward the event sent by hand:
it is recorded as an engagement event whose id names the customer and the year, so a
rerun, or a run killed half-way, never rewards twice. Then, in one transaction, the year
is marked and `customer.birthday` written to the outbox.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from app.engagement import record_event
from domain.events import EventInput
from persistence.unit_of_work import UnitOfWork
from rules import Program

CUSTOMER_BIRTHDAY = "customer.birthday"
BATCH_SIZE = 500


@dataclass(frozen=True)
class BirthdayReport:
    customers: int
    points: int


def birthdays_on(today: date | datetime) -> list[str]:
    """The birthdays ('MM-DD') celebrated on `today` (the program's local date)."""
    days = [today.strftime("%m-%d")]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append("02-29")
    return days


def birthdays_due(now: datetime, zone: tzinfo) -> tuple[list[str], int]:
    """The birthdays celebrated at `now` and the year they are celebrated in: the program's
    local date (a Paris birthday begins at 22:00 or 23:00 UTC the evening before)."""
    today = now.astimezone(zone).date()
    return birthdays_on(today), today.year


def event_id(customer_external_id: str, year: int) -> str:
    return f"birthday:{year}:{customer_external_id}"


async def celebrate_birthdays(
    uow: UnitOfWork, program: Program, now: datetime, *, batch_size: int = BATCH_SIZE
) -> BirthdayReport:
    days, year = birthdays_due(now, program.zone)
    wished = points = 0
    after_id = 0
    while page := await _due(uow, days, year, after_id, batch_size):
        for customer_id, external_id in page:
            after_id = customer_id
            result = await record_event(
                uow,
                program,
                EventInput(
                    external_id=event_id(external_id, year),
                    customer_external_id=external_id,
                    type=CUSTOMER_BIRTHDAY,
                    occurred_at=now,
                ),
            )
            async with uow.transaction() as session:
                if await session.birthdays.mark(customer_id, year):
                    payload = {
                        "year": year,
                        "eventExternalId": event_id(external_id, year),
                        "points": result.points_earned,
                    }
                    await session.customers.add_events([(CUSTOMER_BIRTHDAY, external_id, payload)], now)
                    wished += 1
                    points += result.points_earned
    return BirthdayReport(wished, points)


async def _due(uow: UnitOfWork, days: list[str], year: int, after_id: int, limit: int) -> list[tuple[int, str]]:
    async with uow.reading() as session:
        return await session.birthdays.due(days, year, after_id, limit)
