"""What the scheduled jobs read: earn entries that are due, customer by customer.

Each job pages through customers by id (so a customer with nothing to do is not visited
twice in a run), then, with the customer locked, reads that customer's due entries again:
whatever a concurrent run wrote meanwhile is then seen and not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence import sql

# An earn entry's pending points not yet released: no release pair relates to it.
_UNRELEASED = (
    "e.kind = 'earn' AND e.bucket = 'pending' AND e.available_at <= $1 AND NOT EXISTS"
    " (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id AND r.kind = 'release'"
    " AND r.bucket = 'available')"
)

# An earn entry whose points are in the available bucket (earned so, or released) and that
# no expiry entry relates to yet: what the customer may still spend of it, or expire.
IN_AVAILABLE_NOT_EXPIRED = (
    "e.kind = 'earn'"
    " AND (e.bucket = 'available' OR EXISTS (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id"
    " AND r.kind = 'release' AND r.bucket = 'available'))"
    " AND NOT EXISTS (SELECT 1 FROM ledger_entries x WHERE x.related_entry_id = e.id AND x.kind = 'expire'"
    " AND x.bucket = 'available')"
)

# ... and past its expiry. Pending points that were never released wait for the release
# job: they expire on the run after it.
_UNEXPIRED = f"e.expires_at IS NOT NULL AND e.expires_at <= $1 AND {IN_AVAILABLE_NOT_EXPIRED}"


def _reversed(bucket: str) -> str:
    """Points a return took back from an order's earn entry in this bucket: reversals name
    the order and the rule (not the entry), one earn entry per rule and order."""
    return (
        "COALESCE((SELECT SUM(v.points) FROM ledger_entries v WHERE v.kind = 'reverse'"
        f" AND v.bucket = '{bucket}' AND v.customer_id = e.customer_id AND v.order_id = e.order_id"
        " AND v.rule_id = e.rule_id), 0)"
    )


@dataclass(frozen=True)
class DueEntry:
    id: int
    points: int
    """What the entry still holds in the bucket the job moves points out of."""
    rule_id: str | None
    rules_version: str | None


async def customers_with_releases(now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
    return await _customers(_UNRELEASED, now, after_id, limit)


async def customers_with_expiries(now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
    return await _customers(_UNEXPIRED, now, after_id, limit)


async def _customers(condition: str, now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
    return await customers_page(
        f"SELECT 1 FROM ledger_entries e WHERE {condition} AND e.customer_id = c.id", now, after_id, limit
    )


async def customers_page(exists: str, now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
    """A page of customers (c) after `after_id` for whom the subquery `exists` finds a row;
    it may compare with `now` as $1."""
    rows = await sql.fetch(
        # Placeholders in textual order, each once: SQLite's are positional `?`.
        f"SELECT c.id, c.external_id FROM customers c WHERE EXISTS ({exists}) AND c.id > $2 ORDER BY c.id LIMIT $3",
        now,
        after_id,
        limit,
    )
    return [(row["id"], row["external_id"]) for row in rows]


async def due_releases(customer_id: int, now: datetime) -> list[DueEntry]:
    """Pending earn entries due for release, with what remains of each in the pending bucket
    (less any other pending entry related to it, such as a reversal)."""
    rows = await sql.fetch(
        "SELECT e.id, e.rule_id, e.rules_version, e.points + COALESCE((SELECT SUM(o.points)"
        " FROM ledger_entries o WHERE o.related_entry_id = e.id AND o.bucket = 'pending'), 0)"
        f" + {_reversed('pending')} AS remaining"
        f" FROM ledger_entries e WHERE {_UNRELEASED} AND e.customer_id = $2 ORDER BY e.id",
        now,
        customer_id,
    )
    return [_due(row) for row in rows]


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


async def due_expiries(customer_id: int, now: datetime) -> list[DueEntry]:
    """Earn entries past their expiry, oldest expiry first, with what each still holds in
    the available bucket (`available_remaining`)."""
    rows = await sql.fetch(
        f"SELECT e.id, e.rule_id, e.rules_version, {available_remaining()} AS remaining"
        f" FROM ledger_entries e WHERE {_UNEXPIRED} AND e.customer_id = $2 ORDER BY e.expires_at, e.id",
        now,
        customer_id,
    )
    return [_due(row) for row in rows]


def _due(row: dict) -> DueEntry:
    return DueEntry(
        id=row["id"],
        points=int(row["remaining"]),
        rule_id=row["rule_id"],
        rules_version=row["rules_version"],
    )
