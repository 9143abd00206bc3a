"""The ledger's one INSERT: every entry is appended here, by one row builder (`entry_row`)
and one statement built from the table's description, whatever it came from (an order,
an engagement event, a job's release or expiry of an earn entry, an adjustment). The order
write on PostgreSQL appends the same rows from its own statement, built from the same
description and `entry_row` (persistence.order_writes).

Call inside a transaction, with the customer locked; the balance move that goes with the
entries is `repositories.move_balance` (or `apply_entries`, both at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.ledger import Bucket, EntryKind, NewEntry
from persistence import sql
from persistence.statements import RowsInsert, Statement
from persistence.tables import LEDGER_ENTRIES


@dataclass(frozen=True)
class LinkedEntry:
    entry: NewEntry
    event_id: int | None = None
    related_entry_id: int | None = None


def entry_row(
    customer_id: int,
    entry: NewEntry,
    *,
    now: datetime,
    order_id: int | None = None,
    source: str | None = None,
    event_id: int | None = None,
    related_entry_id: int | None = None,
) -> dict[str, Any]:
    """A ledger row's values by column: the same for every way of writing it."""
    return {
        "customer_id": customer_id,
        "kind": entry.kind.value,
        "bucket": entry.bucket.value,
        "points": entry.points,
        "reason": entry.reason,
        "rule_id": entry.rule_id,
        "rules_version": entry.rules_version,
        "order_id": order_id,
        "source": source,
        "created_at": now,
        "available_at": entry.available_at,
        "expires_at": entry.expires_at,
        "event_id": event_id,
        "related_entry_id": related_entry_id,
        "variant": entry.variant,
        "counts_toward_tier": entry.counts_toward_tier,
    }


def counts_as_earned(alias: str = "") -> str:
    """SQL for `NewEntry.counts_as_earned`: the entries a lifetime earned and a tier's
    qualifying points are the sum of (earn, reverse, and adjustments that say so)."""
    a = f"{alias}." if alias else ""
    return f"({a}kind IN ('earn', 'reverse') OR ({a}kind = 'adjust' AND {a}counts_toward_tier))"


_WRITTEN = "kind, bucket, points, reason"
_INSERT = RowsInsert(LEDGER_ENTRIES, returning=_WRITTEN)
# A job that acts on an earn entry twice acts once: the unique index (kind, bucket,
# related_entry_id) leaves the second out instead of failing the transaction.
_INSERT_ONCE = RowsInsert(LEDGER_ENTRIES, suffix="ON CONFLICT DO NOTHING", returning=_WRITTEN)


async def insert_entries(
    customer_id: int,
    entries: Sequence[LinkedEntry],
    *,
    now: datetime,
    source: str | None = None,
    order_id: int | None = None,
    skip_conflicts: bool = False,
) -> list[NewEntry]:
    """Append entries; returns those actually written. With `skip_conflicts`, an entry the
    unique index (kind, bucket, related_entry_id) already holds is left out instead of
    failing the transaction: a job that acts on an earn entry twice acts once."""
    if not entries:
        return []
    rows = [
        entry_row(
            customer_id,
            e.entry,
            now=now,
            order_id=order_id,
            source=source,
            event_id=e.event_id,
            related_entry_id=e.related_entry_id,
        )
        for e in entries
    ]
    insert = _INSERT_ONCE if skip_conflicts else _INSERT
    written = await sql.fetch_named(insert.statement(len(rows)), insert.params(rows))
    return [NewEntry(EntryKind(r["kind"]), Bucket(r["bucket"]), r["points"], r["reason"]) for r in written]


_EARNED_BY = {
    column: Statement(
        "SELECT kind, bucket, points, reason, rule_id, rules_version FROM ledger_entries"
        f" WHERE {column} = :id AND kind = 'earn' ORDER BY id"
    )
    for column in ("order_id", "event_id")
}


async def earn_entries_of(*, order_id: int | None = None, event_id: int | None = None) -> list[NewEntry]:
    """The earn entries an order or an engagement event wrote, in the order written."""
    column, value = ("order_id", order_id) if order_id is not None else ("event_id", event_id)
    assert value is not None, "name an order or an event"
    rows = await sql.fetch_named(_EARNED_BY[column], {"id": value})
    return [
        NewEntry(EntryKind(r["kind"]), Bucket(r["bucket"]), r["points"], r["reason"], r["rule_id"], r["rules_version"])
        for r in rows
    ]
