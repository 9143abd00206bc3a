"""What the `points.expiring` notices read and write, one batch of customers (an id range)
at a time: points due to expire soon, and the notices already given (one per customer and
expiry date, under a unique key, so a repeat or a second scheduler writes none)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from persistence import sql
from persistence.jobs import IN_AVAILABLE_NOT_EXPIRED, available_remaining, last_activity, without_jit
from persistence.statements import named


@dataclass(frozen=True)
class Expiring:
    customer_id: int
    external_id: str
    expires_at: datetime
    points: int


async def expiring_entries(lo: int, hi: int, now: datetime, horizon: datetime) -> list[Expiring]:
    """Per award: earn entries of customers lo < id <= hi that expire after `now` and by
    `horizon`, with what each still holds in the available bucket."""
    await without_jit()
    rows = await sql.fetch_named(
        named(
            f"SELECT e.customer_id, c.external_id, e.expires_at, {available_remaining()} AS points"
            " FROM ledger_entries e JOIN customers c ON c.id = e.customer_id"
            " WHERE e.customer_id > :lo AND e.customer_id <= :hi AND e.expires_at > :now AND e.expires_at <= :horizon"
            f" AND {IN_AVAILABLE_NOT_EXPIRED}"
        ),
        {"lo": lo, "hi": hi, "now": now, "horizon": horizon},
    )
    return [_expiring(row) for row in rows]


async def inactive_customers(lo: int, hi: int, since: datetime, until: datetime) -> list[Expiring]:
    """After inactivity: customers lo < id <= hi with points available whose last activity
    is after `since` (not yet expired) and at or before `until`; `expires_at` is their last
    activity (the caller adds the policy's days)."""
    await without_jit()
    rows = await sql.fetch_named(
        named(
            f"SELECT * FROM (SELECT c.id AS customer_id, c.external_id, {last_activity()} AS expires_at,"
            " c.points_available AS points FROM customers c WHERE c.id > :lo AND c.id <= :hi AND"
            " c.points_available > 0) a"
            " WHERE a.expires_at > :since AND a.expires_at <= :until"
        ),
        {"lo": lo, "hi": hi, "since": since, "until": until},
    )
    return [_expiring(row) for row in rows]


async def add_notices(notices: Sequence[tuple[int, date, int]], now: datetime) -> set[tuple[int, date]]:
    """Records (customer id, expiry date, points) notices; returns those that are new."""
    if not notices:
        return set()
    typed = sql.on_postgres()
    groups: list[str] = []
    values: list[object] = []
    for customer_id, day, points in notices:
        n = len(values)
        groups.append(
            f"(CAST(${n + 1} AS BIGINT), CAST(${n + 2} AS DATE), CAST(${n + 3} AS BIGINT),"
            f" CAST(${n + 4} AS TIMESTAMPTZ))"
            if typed
            else f"(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4})"
        )
        values += [customer_id, day if typed else day.isoformat(), points, now]
    rows = await sql.fetch(
        f"INSERT INTO expiry_notices (customer_id, expires_on, points, created_at) VALUES {', '.join(groups)}"
        " ON CONFLICT (customer_id, expires_on) DO NOTHING RETURNING customer_id, expires_on",
        *values,
    )
    return {(int(r["customer_id"]), _day(r["expires_on"])) for r in rows}


def _day(value: date | str) -> date:
    # SQLite hands dates back as text.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _expiring(row: dict) -> Expiring:
    moment = row["expires_at"]
    moment = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
    return Expiring(int(row["customer_id"]), row["external_id"], sql.as_utc(moment), int(row["points"]))
