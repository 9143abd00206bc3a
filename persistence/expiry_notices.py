"""What the `points.expiring` notices read and write, one batch of customers (an id range)
at a time: points due to expire soon, and the notices already given (one per customer and
expiry date, under a unique key, so a repeat or a second scheduler writes none).

On PostgreSQL a batch is one statement: the due points found and grouped by customer and
date (a day of the program's time zone) in the database, the new notices inserted, and
their events numbered and built from what the insert returned, so nothing comes back to
Python but two totals. SQLite (no time zones in its SQL; no statement reading another's
`RETURNING`) reads the due points, groups them here, and writes notices and events by two
more statements. Both give the same notices and the same events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain.expiry import ExpiryPolicy
from persistence import outbox, sql
from persistence.jobs import (
    IN_AVAILABLE_NOT_EXPIRED,
    available_remaining,
    joins_by_hash,
    last_activity,
    without_jit,
)


@dataclass(frozen=True)
class Expiring:
    customer_id: int
    external_id: str
    expires_at: datetime
    points: int


@dataclass(frozen=True)
class Noticed:
    notices: int
    points: int


def _expiring_sql(lo: str, hi: str, now: str, horizon: str) -> str:
    return (
        f"SELECT e.customer_id, c.external_id, e.expires_at, {available_remaining()} AS points"
        " FROM ledger_entries e JOIN customers c ON c.id = e.customer_id"
        f" WHERE e.customer_id > {lo} AND e.customer_id <= {hi} AND e.expires_at > {now}"
        f" AND e.expires_at <= {horizon} AND {IN_AVAILABLE_NOT_EXPIRED}"
    )


def _inactive_sql(lo: str, hi: str, since: str, until: str) -> str:
    return (
        f"SELECT * FROM (SELECT c.id AS customer_id, c.external_id, {last_activity()} AS expires_at,"
        f" c.points_available AS points FROM customers c WHERE c.id > {lo} AND c.id <= {hi}"
        f" AND c.points_available > 0) a WHERE a.expires_at > {since} AND a.expires_at <= {until}"
    )


async def notify_expiring(
    lo: int, hi: int, now: datetime, horizon: datetime, policy: ExpiryPolicy, event_type: str
) -> Noticed:
    """Per award: a notice for the points of customers lo < id <= hi whose earn entries
    expire after `now` and by `horizon`, one per customer and date, of what the entries
    still hold in the available bucket."""
    await without_jit()
    if not sql.on_postgres():
        rows = await sql.fetch(_expiring_sql("$1", "$2", "$3", "$4"), lo, hi, now, horizon)
        return await _notify_in_python([_expiring(row) for row in rows], policy, now, event_type)
    found = _expiring_sql("$1", "$2", "$3", "$4") + " AND c.id > $1 AND c.id <= $2"
    due = """SELECT customer_id, external_id, CAST(timezone($5, expires_at) AS DATE) AS expires_on,
                     MIN(expires_at) AS expires_at, SUM(points) AS points
              FROM found WHERE points > 0 GROUP BY 1, 2, 3"""
    return await _notify_pg(found, due, [lo, hi, now, horizon, policy.zone_name], now, event_type)


async def notify_inactive(
    lo: int, hi: int, now: datetime, since: datetime, until: datetime, policy: ExpiryPolicy, event_type: str
) -> Noticed:
    """After inactivity: a notice for the available points of customers lo < id <= hi
    whose last activity is after `since` (not yet expired) and at or before `until`,
    naming the day their inactivity ends."""
    await without_jit()
    if not sql.on_postgres():
        rows = await sql.fetch(_inactive_sql("$1", "$2", "$3", "$4"), lo, hi, since, until)
        last = [_expiring(row) for row in rows]
        ends = [Expiring(e.customer_id, e.external_id, policy.inactivity_ends(e.expires_at), e.points) for e in last]
        return await _notify_in_python(ends, policy, now, event_type)
    assert policy.inactive_days is not None
    found = _inactive_sql("$1", "$2", "$3", "$4")
    # The end of inactivity in whole seconds (domain.expiry adds days of 24 hours; an
    # interval of days would follow the session's daylight saving).
    due = """SELECT customer_id, external_id, CAST(timezone($5, ends) AS DATE) AS expires_on, ends AS expires_at, points
             FROM (SELECT f.*, f.expires_at + $6 * INTERVAL '1 second' AS ends FROM found f) a"""
    values = [lo, hi, since, until, policy.zone_name, policy.inactive_days * 86400]
    return await _notify_pg(found, due, values, now, event_type)


async def _notify_pg(found: str, due: str, values: list[object], moment: datetime, event_type: str) -> Noticed:
    """One statement: the `found` rows (customer_id, external_id, expires_at, points),
    `due` grouping them by (customer, date), the new notices and their events, numbered
    per customer in date order as `outbox.add_batch_events` numbers them."""
    now = len(values) + 1
    # `expiresAt` as Python's isoformat() writes a UTC time.
    expires_at = (
        "to_char(timezone('UTC', n.expires_at), 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN EXTRACT(MICROSECONDS FROM n.expires_at) % 1000000 <> 0"
        " THEN to_char(timezone('UTC', n.expires_at), '.US') ELSE '' END || '+00:00'"
    )
    await joins_by_hash()
    rows = await sql.fetch(
        f"""WITH found AS MATERIALIZED ({found}),
        due AS MATERIALIZED ({due}),
        noticed AS (
          INSERT INTO expiry_notices (customer_id, expires_on, points, created_at)
          SELECT customer_id, expires_on, points, ${now} FROM due ORDER BY customer_id, expires_on
          ON CONFLICT (customer_id, expires_on) DO NOTHING
          RETURNING customer_id, expires_on
        ),
        new AS (
          SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.customer_id ORDER BY d.expires_on) AS nth,
                 COUNT(*) OVER (PARTITION BY d.customer_id) AS count
          FROM noticed n JOIN due d ON d.customer_id = n.customer_id AND d.expires_on = n.expires_on
        ),
        numbers AS (
          INSERT INTO customer_event_sequences (customer_external_id, last_sequence)
          SELECT external_id, MAX(count) FROM new GROUP BY external_id
          {outbox.COUNT_EVENTS}
          RETURNING customer_external_id, last_sequence
        ),
        events AS (
          INSERT INTO reward_events (type, customer_external_id, occurred_at, payload, customer_sequence)
          SELECT CAST(${now + 1} AS TEXT), n.external_id, ${now},
                 jsonb_build_object('points', n.points, 'expiresOn', to_char(n.expires_on, 'YYYY-MM-DD'),
                                    'expiresAt', {expires_at}),
                 s.last_sequence - n.count + n.nth
          FROM new n JOIN numbers s ON s.customer_external_id = n.external_id
        )
        SELECT COUNT(*) AS notices, COALESCE(SUM(points), 0) AS points FROM new""",
        *values,
        moment,
        event_type,
    )
    return Noticed(int(rows[0]["notices"]), int(rows[0]["points"]))


async def _notify_in_python(found: list[Expiring], policy: ExpiryPolicy, now: datetime, event_type: str) -> Noticed:
    due = _by_date(policy, found)
    new = await _add_notices([(customer_id, day, amount) for (customer_id, day), (_, _, amount) in due.items()], now)
    events: list[outbox.Event] = []
    points = 0
    for key in sorted(new):
        external_id, expires_at, amount = due[key]
        payload = {"points": amount, "expiresOn": key[1].isoformat(), "expiresAt": expires_at.isoformat()}
        events.append((event_type, external_id, payload))
        points += amount
    await outbox.add_batch_events(events, now)
    return Noticed(len(events), points)


def _by_date(policy: ExpiryPolicy, found: list[Expiring]) -> dict[tuple[int, date], tuple[str, datetime, int]]:
    """(customer id, date) → (external id, earliest expiry that day, points), points > 0."""
    due: dict[tuple[int, date], tuple[str, datetime, int]] = {}
    for e in found:
        if e.points <= 0:
            continue
        key = (e.customer_id, policy.notice_day(e.expires_at))
        _, at, amount = due.get(key, (e.external_id, e.expires_at, 0))
        due[key] = (e.external_id, min(at, e.expires_at), amount + e.points)
    return due


async def _add_notices(notices: Sequence[tuple[int, date, int]], now: datetime) -> set[tuple[int, date]]:
    """Records (customer id, expiry date, points) notices; returns those that are new."""
    if not notices:
        return set()
    groups: list[str] = []
    values: list[object] = []
    for customer_id, day, points in notices:
        n = len(values)
        groups.append(f"(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4})")
        values += [customer_id, day.isoformat(), points, now]
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
