"""What the points jobs write, set-based: one batch of customers (an id range) per call.

Each call runs inside the job's transaction for the batch: it locks the batch's
customers that have something due (PostgreSQL; SQLite runs one writer at a time), then
appends the entries of the whole batch with one `INSERT ... SELECT`, relating each to the
entry it acts on. The unique index on (kind, bucket, related_entry_id) makes a repeat (a
run killed half-way and run again, or a second scheduler) insert nothing for what is
done; what this call wrote (`RETURNING`), and nothing else, moves the cached balances and
makes the batch's events. On PostgreSQL all of that is the one statement (writable
`WITH` parts: the entries summed per customer in the database, the balances moved by the
sums, the events built from the balances after); SQLite, whose statements cannot read
another's `RETURNING`, sums the returned rows in Python and writes balances and events
by two more statements (`_moved_in_python`).

Amounts are clamped per customer in SQL, oldest first, by a running sum (a window):
an entry releases or expires at most what it still holds, and all of them together at
most the customer's cached pending or available points, so a balance never goes below 0
(other debits, such as manual adjustments, are not traced to entries).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from persistence import outbox, sql
from persistence.statements import named


def _none_related(kind: str) -> str:
    """No entry of `kind` in the available bucket relates to e. A count, not NOT EXISTS:
    PostgreSQL turns NOT EXISTS into an anti join, planned from statistics that a job
    writing thousands of such entries makes stale (measured: it took the job's own
    entries to be 1 row and scanned them all for each due entry, 6 minutes for one batch);
    a scalar subquery stays one lookup of the unique (kind, bucket, related_entry_id)
    index per entry."""
    return (
        f"(SELECT COUNT(*) FROM ledger_entries x WHERE x.kind = '{kind}' AND x.bucket = 'available'"
        " AND x.related_entry_id = e.id) = 0"
    )


# An earn entry's pending points not yet released: no release pair relates to it.
_UNRELEASED = "e.kind = 'earn' AND e.bucket = 'pending' AND e.available_at <= {now} AND " + _none_related("release")

# An earn entry whose points are in the available bucket (earned so, or released) and that
# no expiry entry relates to yet: what the customer may still spend of it, or expire.
IN_AVAILABLE_NOT_EXPIRED = (
    "e.kind = 'earn'"
    " AND (e.bucket = 'available' OR EXISTS (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id"
    f" AND r.kind = 'release' AND r.bucket = 'available')) AND {_none_related('expire')}"
)

# Under the inactivity policy every credit expires, adjustments too (they put points in
# the available bucket that no earn entry holds).
_CREDIT_NOT_EXPIRED = (
    f"(({IN_AVAILABLE_NOT_EXPIRED}) OR (e.kind = 'adjust' AND e.bucket = 'available' AND e.points > 0"
    f" AND {_none_related('expire')}))"
)

# ... past its expiry. Pending points that were never released wait for the release job:
# they expire on the run after it.
_UNEXPIRED = "e.expires_at IS NOT NULL AND e.expires_at <= {now} AND " + IN_AVAILABLE_NOT_EXPIRED


def _reversed(bucket: str) -> str:
    """Points a return took back from an order's earn entry in this bucket: reversals name
    the order and the rule (not the entry), one earn entry per rule and order."""
    return (
        "COALESCE((SELECT SUM(v.points) FROM ledger_entries v WHERE v.kind = 'reverse'"
        f" AND v.bucket = '{bucket}' AND v.customer_id = e.customer_id AND v.order_id = e.order_id"
        " AND v.rule_id = e.rule_id), 0)"
    )


def _pending_remaining() -> str:
    """What a pending earn entry still holds (less other pending entries related to it,
    such as a reversal)."""
    return (
        "e.points + COALESCE((SELECT SUM(o.points) FROM ledger_entries o WHERE o.related_entry_id = e.id"
        f" AND o.bucket = 'pending'), 0) + {_reversed('pending')}"
    )


def available_remaining() -> str:
    """What an earn entry (aliased e) still holds in the available bucket: the points it
    put there (earned there, or released to it), less reversals of it and less what
    redemptions spent of it (`redemption_lots`; refunds put lots back as negative rows)."""
    return (
        "CASE WHEN e.bucket = 'available' THEN e.points ELSE 0 END + COALESCE((SELECT SUM(o.points)"
        " FROM ledger_entries o WHERE o.related_entry_id = e.id AND o.bucket = 'available'), 0)"
        f" + {_reversed('available')}"
        " - COALESCE((SELECT SUM(s.points) FROM redemption_lots s WHERE s.entry_id = e.id), 0)"
    )


def last_activity(c: str = "c") -> str:
    """A customer's (aliased `c`) last activity: order, engagement event or redemption,
    else their enrolment (domain.expiry)."""
    parts = [
        f"COALESCE({c}.last_order_at, {c}.enrolled_at)",
        f"COALESCE((SELECT MAX(x.created_at) FROM engagement_events x WHERE x.customer_id = {c}.id), {c}.enrolled_at)",
        f"COALESCE((SELECT MAX(r.created_at) FROM redemptions r WHERE r.customer_id = {c}.id), {c}.enrolled_at)",
    ]
    # PostgreSQL's GREATEST is SQLite's many-argument MAX (no argument is NULL here).
    return f"{'GREATEST' if sql.on_postgres() else 'MAX'}({', '.join(parts)})"


async def last_customer_id() -> int:
    rows = await sql.fetch("SELECT COALESCE(MAX(id), 0) AS top FROM customers")
    return int(rows[0]["top"])


_COLUMNS = (
    "customer_id, kind, bucket, points, reason, rule_id, rules_version, source, created_at,"
    " available_at, related_entry_id"
)


class _Params:
    """`$n` placeholders by name, typed where PostgreSQL cannot infer them."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.typed = sql.on_postgres()

    def __call__(self, value: Any, pg_type: str | None = None) -> str:
        self.values.append(value)
        mark = f"${len(self.values)}"
        return f"CAST({mark} AS {pg_type})" if pg_type and self.typed else mark


Due = Callable[[_Params], str]
"""A condition on a ledger entry e (and its customer c), its values put in the params."""


async def _lock(due: Due, lo: int, hi: int) -> None:
    """Locks the batch's customers with something due, in id order (every writer of a
    customer's balance takes this lock: orders, redemptions, the other jobs)."""
    if not sql.on_postgres():
        return
    p = _Params()
    await sql.fetch(
        f"SELECT c.id FROM customers c WHERE c.id > {p(lo)} AND c.id <= {p(hi)}"
        f" AND EXISTS (SELECT 1 FROM ledger_entries e WHERE e.customer_id = c.id AND {due(p)})"
        " ORDER BY c.id FOR UPDATE",
        *p.values,
    )


def _clamped(due: Due, remaining: str, held: str, order: str, p: _Params, lo: int, hi: int) -> tuple[str, str]:
    """The due entries of customers lo < id <= hi with `take`: what each moves, oldest
    (`order`) first, at most what it holds (`remaining`) and, together, at most `held`.
    Returns the statement's `WITH` and the rows' subquery.

    `remaining` is computed once per entry in a MATERIALIZED part: inlined, PostgreSQL
    copied its four subqueries into each of the five places that read it (measured: 5x
    the index lookups)."""
    due_rows = f"""WITH d AS MATERIALIZED (
          SELECT e.id, e.customer_id, e.rule_id, e.rules_version, e.expires_at,
                 (SELECT c.{held} FROM customers c WHERE c.id = e.customer_id) AS held, {remaining} AS remaining
          FROM ledger_entries e
          WHERE e.customer_id > {p(lo)} AND e.customer_id <= {p(hi)} AND {due(p)}
        )"""
    clamped = f"""(
      SELECT t.*, CASE WHEN t.remaining <= 0 OR t.held - t.before <= 0 THEN 0
                       WHEN t.remaining < t.held - t.before THEN t.remaining
                       ELSE t.held - t.before END AS take
      FROM (
        SELECT d.*, SUM(CASE WHEN d.remaining > 0 THEN d.remaining ELSE 0 END) OVER (
                 PARTITION BY d.customer_id ORDER BY {order} ROWS UNBOUNDED PRECEDING)
               - CASE WHEN d.remaining > 0 THEN d.remaining ELSE 0 END AS before
        FROM d
      ) t)"""
    return due_rows, clamped


async def without_jit() -> None:
    """Plans for one batch, on PostgreSQL, for the rest of the transaction.

    Measured on 100,000 customers and 1,000,000 entries (`bench/bench_jobs.py`), a batch of
    5,000 customers: the JIT compiled these statements (many subqueries, a high estimated
    cost) at every batch, 5.9 s of compiling for a statement that ran in 1.5 s without
    it; and the planner ANDed a bitmap of every earn entry of the ledger (the unique
    index's `kind`) with the batch's range at every batch, which makes a run quadratic in
    the ledger. Without bitmaps, each batch reads its customers' entries by the
    (customer_id, id) index and looks each due entry's related entries up by index: work
    in proportion to the batch."""
    if sql.on_postgres():
        await sql.execute("SET LOCAL jit = off")
        await sql.execute("SET LOCAL enable_bitmapscan = off")


async def joins_by_hash() -> None:
    """For the rest of the transaction (PostgreSQL), joins by hash, not by nested loops.

    The statements that write a batch join the rows of their own `WITH` parts (the
    events' numbers to the balances after, the notices to the points they announce). The
    planner guesses such a part at one row whatever it holds, and so joined two of them
    by a nested loop: measured on a batch of 5,000 customers, 7,099,560 comparisons for
    2,665 events, 3.2 s of the statement's 4.4 s. Each join that reads a table (the
    balances' update) is bounded by the batch's id range, so by hash it reads that range
    of the table by its key, not the table."""
    if sql.on_postgres():
        await sql.execute("SET LOCAL enable_nestloop = off")


async def release_batch(lo: int, hi: int, now: datetime, event_type: str) -> Totals:
    """Releases the batch's pending earn entries due by `now`: a pair of entries each
    (-n pending, +n available); an entry with nothing left to release is skipped."""

    def due(p: _Params) -> str:
        return _UNRELEASED.format(now=p(now, "TIMESTAMPTZ"))

    await without_jit()
    await _lock(due, lo, hi)
    p = _Params()
    stamp = p(now, "TIMESTAMPTZ")
    due_rows, clamped = _clamped(due, _pending_remaining(), "points_pending", "d.id", p, lo, hi)
    insert = f"""INSERT INTO ledger_entries ({_COLUMNS})
        SELECT u.customer_id, 'release', b.bucket, b.sign * u.take, 'Pending points released', u.rule_id,
               u.rules_version, 'job:points-release', {stamp}, CASE WHEN b.sign > 0 THEN {stamp} END, u.id
        FROM {clamped} u
        CROSS JOIN (SELECT 'pending' AS bucket, -1 AS sign UNION ALL SELECT 'available', 1) b
        WHERE u.take > 0
        ON CONFLICT (kind, bucket, related_entry_id) DO NOTHING"""
    return await _write(due_rows, insert, p, stamp, now, (lo, hi), "pending", event_type)


async def expire_batch(lo: int, hi: int, now: datetime, inactive_since: datetime | None, event_type: str) -> Totals:
    """Expires the batch's points due by `now`: per award (None), earn entries past their
    `expires_at`, soonest first; after inactivity, every credit of customers whose last
    activity is at or before `inactive_since`, oldest first. One expiry entry per credit,
    even of 0 points when all was spent: it records that the credit was handled."""

    def due(p: _Params) -> str:
        if inactive_since is None:
            return _UNEXPIRED.format(now=p(now, "TIMESTAMPTZ"))
        # The customers first, each once (not a last activity computed per entry).
        inactive = (
            f"SELECT a.id FROM customers a WHERE a.id > {p(lo)} AND a.id <= {p(hi)}"
            f" AND {last_activity('a')} <= {p(inactive_since, 'TIMESTAMPTZ')}"
        )
        return f"{_CREDIT_NOT_EXPIRED} AND e.customer_id IN ({inactive})"

    if inactive_since is None:
        order, why = "d.expires_at, d.id", "' points expired'"
    else:
        order, why = "d.id", "' points expired after a time without activity'"
    await without_jit()
    await _lock(due, lo, hi)
    p = _Params()
    stamp = p(now, "TIMESTAMPTZ")
    due_rows, clamped = _clamped(due, available_remaining(), "points_available", order, p, lo, hi)
    insert = f"""INSERT INTO ledger_entries ({_COLUMNS})
        SELECT u.customer_id, 'expire', 'available', -u.take,
               CASE WHEN u.take > 0 THEN CAST(u.take AS TEXT) || ' of ' || CAST(u.remaining AS TEXT) || {why}
                    ELSE 'None of ' || CAST(u.remaining AS TEXT) || ' points left to expire: all were spent' END,
               u.rule_id, u.rules_version, 'job:points-expiry', {stamp}, {stamp}, u.id
        FROM {clamped} u
        WHERE TRUE
        ON CONFLICT (kind, bucket, related_entry_id) DO NOTHING"""
    return await _write(due_rows, insert, p, stamp, now, (lo, hi), "available", event_type)


@dataclass(frozen=True)
class Totals:
    """What one batch wrote: events (one per customer whose points moved), entries, and
    the points moved out of the job's bucket."""

    customers: int
    entries: int
    points: int


async def _write(
    due_rows: str,
    insert: str,
    p: _Params,
    stamp: str,
    now: datetime,
    span: tuple[int, int],
    moved_from: str,
    event_type: str,
) -> Totals:
    """The batch's entries (`insert`), the balances they move and one `event_type` event per
    customer whose `moved_from` bucket moved (payload: points moved and the balance after,
    as app.events.balance_payload words it)."""
    if not sql.on_postgres():
        rows = await sql.fetch(f"{due_rows} {insert} RETURNING customer_id, bucket, points", *p.values)
        written = [(int(r["customer_id"]), r["bucket"], int(r["points"])) for r in rows]
        return await _moved_in_python(written, moved_from, event_type, now)
    # PostgreSQL: one statement. The entries come back to the database, not to this
    # process: summed per customer there, they move the balances, and the events are built
    # from the balances after (measured at 1,000,000 customers: returning every written row
    # here and sending balances and events back took 23-25 s of this process's CPU beside
    # PostgreSQL's 55 s; now 1 s).
    # The balances' update is bounded by the batch's id range as well, so that it reads
    # the batch's customers by the key, whatever the planner guesses of the sums' rows.
    await joins_by_hash()
    rows = await sql.fetch(
        f"""{due_rows},
        written AS ({insert} RETURNING customer_id, bucket, points),
        moves AS (
          SELECT customer_id, COUNT(*) AS entries,
                 SUM(CASE WHEN bucket = 'available' THEN points ELSE 0 END) AS available,
                 SUM(CASE WHEN bucket = 'pending' THEN points ELSE 0 END) AS pending
          FROM written GROUP BY customer_id
        ),
        after AS (
          UPDATE customers c SET points_available = c.points_available + m.available,
                                 points_pending = c.points_pending + m.pending
          FROM moves m WHERE c.id = m.customer_id AND c.id > {p(span[0])} AND c.id <= {p(span[1])}
          RETURNING c.external_id, c.points_available, c.points_pending, c.lifetime_earned, m.entries,
                    -m.{moved_from} AS moved
        ),
        numbers AS (
          INSERT INTO customer_event_sequences (customer_external_id, last_sequence)
          SELECT external_id, 1 FROM after WHERE moved <> 0
          {outbox.COUNT_EVENTS}
          RETURNING customer_external_id, last_sequence
        ),
        events AS (
          INSERT INTO reward_events (type, customer_external_id, occurred_at, payload, customer_sequence)
          SELECT {p(event_type, "TEXT")}, a.external_id, {stamp},
                 jsonb_build_object('points', a.moved, 'balanceAfter', jsonb_build_object(
                   'available', a.points_available, 'pending', a.points_pending,
                   'lifetimeEarned', a.lifetime_earned)),
                 n.last_sequence
          FROM after a JOIN numbers n ON n.customer_external_id = a.external_id
        )
        SELECT COUNT(*) FILTER (WHERE moved <> 0) AS customers, COALESCE(SUM(entries), 0) AS entries,
               COALESCE(SUM(moved), 0) AS points,
               COUNT(*) FILTER (WHERE points_available < 0 OR points_pending < 0) AS below_zero
        FROM after""",
        *p.values,
    )
    row = rows[0]
    # The invariant the whole ledger rests on: nothing takes points a customer does not have.
    assert row["below_zero"] == 0, row
    if row["customers"]:
        outbox.announce_written()
    return Totals(int(row["customers"]), int(row["entries"]), int(row["points"]))


async def _moved_in_python(
    written: list[tuple[int, str, int]], moved_from: str, event_type: str, now: datetime
) -> Totals:
    """SQLite's way (no statement there reads what another in it wrote): the written rows
    summed here, the balances moved by one statement, the events written by another."""
    moves: dict[int, list[int]] = {}
    for customer_id, bucket, points in written:
        move = moves.setdefault(customer_id, [0, 0])
        move[0 if bucket == "available" else 1] += points
    balances = await move_balances([(c, a, n) for c, (a, n) in sorted(moves.items())])
    events: list[outbox.Event] = []
    moved_total = 0
    for after in balances:
        available, pending = moves[after.customer_id]
        moved = -pending if moved_from == "pending" else -available
        if moved:
            balance = {"available": after.available, "pending": after.pending, "lifetimeEarned": after.lifetime_earned}
            events.append((event_type, after.external_id, {"points": moved, "balanceAfter": balance}))
            moved_total += moved
    await outbox.add_batch_events(events, now)
    return Totals(len(events), len(written), moved_total)


@dataclass(frozen=True)
class BalanceAfter:
    customer_id: int
    external_id: str
    available: int
    pending: int
    lifetime_earned: int


async def move_balances(moves: Sequence[tuple[int, int, int]]) -> list[BalanceAfter]:
    """Moves each customer's cached balance by (customer id, available, pending) at once;
    returns the balances after, asserted never below 0."""
    if not moves:
        return []
    p = _Params()
    values = ", ".join(f"({p(c, 'BIGINT')}, {p(a, 'BIGINT')}, {p(n, 'BIGINT')})" for c, a, n in moves)
    rows = await sql.fetch(
        "UPDATE customers SET points_available = points_available + m.available,"
        " points_pending = points_pending + m.pending"
        " FROM (SELECT column1 AS customer_id, column2 AS available, column3 AS pending"
        f" FROM (VALUES {values}) AS v) AS m WHERE customers.id = m.customer_id"
        " RETURNING id, external_id, points_available, points_pending, lifetime_earned",
        *p.values,
    )
    after = [
        BalanceAfter(
            int(r["id"]),
            r["external_id"],
            int(r["points_available"]),
            int(r["points_pending"]),
            int(r["lifetime_earned"]),
        )
        for r in rows
    ]
    # The invariant the whole ledger rests on: nothing takes points a customer does not have.
    assert all(b.available >= 0 and b.pending >= 0 for b in after), after
    assert len(after) == len(moves), (moves, after)
    return sorted(after, key=lambda b: b.customer_id)


async def customers_page(exists: str, now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
    """A page of customers (c) after `after_id` for whom the subquery `exists` finds a row;
    it may compare with `:now`."""
    rows = await sql.fetch_named(
        named(
            f"SELECT c.id, c.external_id FROM customers c WHERE EXISTS ({exists})"
            " AND c.id > :after_id ORDER BY c.id LIMIT :limit"
        ),
        {"now": now, "after_id": after_id, "limit": limit},
    )
    return [(row["id"], row["external_id"]) for row in rows]
