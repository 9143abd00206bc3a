"""Ledger entries that name what they came from (an engagement event, or the earn entry a
release or expiry acts on), and the balance move that goes with them.

`repositories.apply_entries` writes order entries; these are the same rows with the two
links it does not set. Call inside `repositories.transaction()`, with the customer locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.ledger import Bucket, EntryKind, NewEntry
from persistence import sql


@dataclass(frozen=True)
class LinkedEntry:
    entry: NewEntry
    event_id: int | None = None
    related_entry_id: int | None = None


async def insert_entries(
    customer_id: int,
    entries: Sequence[LinkedEntry],
    *,
    now: datetime,
    source: str | None = None,
    skip_conflicts: bool = False,
) -> list[NewEntry]:
    """Append entries; returns those actually written. With `skip_conflicts`, an entry the
    unique index (kind, bucket, related_entry_id) already holds is left out instead of
    failing the transaction: a job that acts on an earn entry twice acts once."""
    if not entries:
        return []
    columns, values = sql.values_rows(
        [
            (
                customer_id,
                e.entry.kind.value,
                e.entry.bucket.value,
                e.entry.points,
                e.entry.reason,
                e.entry.rule_id,
                e.entry.rules_version,
                source,
                now,
                e.entry.available_at,
                e.entry.expires_at,
                e.event_id,
                e.related_entry_id,
                e.entry.variant,
            )
            for e in entries
        ]
    )
    conflict = " ON CONFLICT DO NOTHING" if skip_conflicts else ""
    rows = await sql.fetch(
        "INSERT INTO ledger_entries (customer_id, kind, bucket, points, reason, rule_id, rules_version,"
        " source, created_at, available_at, expires_at, event_id, related_entry_id, variant) VALUES "
        + columns
        + conflict
        + " RETURNING kind, bucket, points, reason",
        *values,
    )
    return [NewEntry(EntryKind(r["kind"]), Bucket(r["bucket"]), r["points"], r["reason"]) for r in rows]


async def earn_entries_of(*, order_id: int | None = None, event_id: int | None = None) -> list[NewEntry]:
    """The earn entries an order or an engagement event wrote, in the order written."""
    column, value = ("order_id", order_id) if order_id is not None else ("event_id", event_id)
    assert value is not None, "name an order or an event"
    rows = await sql.fetch(
        "SELECT kind, bucket, points, reason, rule_id, rules_version FROM ledger_entries"
        f" WHERE {column} = $1 AND kind = 'earn' ORDER BY id",
        value,
    )
    return [
        NewEntry(EntryKind(r["kind"]), Bucket(r["bucket"]), r["points"], r["reason"], r["rule_id"], r["rules_version"])
        for r in rows
    ]
