"""The ledger: appending entries (the one INSERT of ledger rows), reading pages of it, and
recomputing a balance from the entries themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.customers import Customer
from domain.ledger import Balance, Bucket, EntryKind, NewEntry
from persistence.connections import Connection
from persistence.repository import Repository
from persistence.statements import RowsInsert, Statement
from persistence.tables import LEDGER_ENTRIES, record

ENTRY_COLUMNS = (
    "customer_id",
    "kind",
    "bucket",
    "points",
    "reason",
    "rule_id",
    "rules_version",
    "order_id",
    "source",
    "created_at",
    "available_at",
    "expires_at",
    "event_id",
    "related_entry_id",
)
_INSERT = RowsInsert(LEDGER_ENTRIES, ENTRY_COLUMNS, returning="kind, bucket, points, reason")
# A job that acts on an earn entry twice acts once: the unique index (kind, bucket,
# related_entry_id) leaves the second out instead of failing the transaction.
_INSERT_ONCE = RowsInsert(
    LEDGER_ENTRIES, ENTRY_COLUMNS, suffix="ON CONFLICT DO NOTHING", returning="kind, bucket, points, reason"
)


@dataclass(frozen=True)
class LinkedEntry:
    """An entry that acts on another."""

    entry: NewEntry
    related_entry_id: int | None = None
    """The entry this one acts on (a job's release or expiry of an earn entry)."""


def entry_row(
    customer_id: int,
    entry: NewEntry,
    *,
    now: datetime,
    order_id: int | None = None,
    source: str | None = None,
    event_id: int | None = None,
    related_entry_id: int | None = None,
) -> dict:
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
    }


@dataclass(frozen=True)
class LedgerRow:
    id: int
    kind: str
    bucket: str
    points: int
    reason: str
    rule_id: str | None
    rules_version: str | None
    order_external_id: str | None
    created_at: datetime
    available_at: datetime | None
    expires_at: datetime | None


# The customer's id comes from the unique index on external_id (an InitPlan run once), so
# the page is a backward walk of the (customer_id, id) index that stops after :limit rows;
# filtering through a join on customers.external_id made a page cost grow with the
# customer's history (bench/bench_reads.py).
PAGE = Statement(
    "SELECT e.id, e.kind, e.bucket, e.points, e.reason, e.rule_id, e.rules_version,"
    " o.external_id AS order_external_id, e.created_at, e.available_at, e.expires_at"
    " FROM ledger_entries e LEFT JOIN orders o ON o.id = e.order_id"
    " WHERE e.customer_id = (SELECT id FROM customers WHERE external_id = :customer) AND e.id < :before"
    " ORDER BY e.id DESC LIMIT :limit"
)
_SUMS = Statement(
    "SELECT e.kind, e.bucket, SUM(e.points) AS points FROM ledger_entries e"
    " JOIN customers c ON c.id = e.customer_id WHERE c.external_id = :customer GROUP BY e.kind, e.bucket"
)
_NO_CURSOR = 2**63 - 1
_EARNED_BY = {
    column: Statement(
        "SELECT kind, bucket, points, reason, rule_id, rules_version FROM ledger_entries"
        f" WHERE {column} = :id AND kind = 'earn' ORDER BY id"
    )
    for column in ("order_id", "event_id")
}


async def earn_entries_of(
    conn: Connection, *, order_id: int | None = None, event_id: int | None = None
) -> list[NewEntry]:
    """The earn entries an order or an engagement event wrote, in the order written."""
    column, value = ("order_id", order_id) if order_id is not None else ("event_id", event_id)
    assert value is not None, "name an order or an event"
    rows = await conn.fetch(_EARNED_BY[column], {"id": value})
    return [
        NewEntry(EntryKind(r["kind"]), Bucket(r["bucket"]), r["points"], r["reason"], r["rule_id"], r["rules_version"])
        for r in rows
    ]


class Ledger(Repository):
    async def append(
        self,
        customer: Customer,
        entries: Sequence[NewEntry | LinkedEntry],
        *,
        now: datetime,
        order: str | None = None,
        event: str | None = None,
        source: str | None = None,
        once: bool = False,
    ) -> list[NewEntry]:
        """Append entries (for the order or event of that external id, read or written in
        this session); returns those written. With `once`, an entry that acts on an entry already
        acted on in the same way is left out (see _INSERT_ONCE)."""
        if not entries:
            return []
        self.session.writing()
        customer_id = self.session.customers.snapshot(customer).id
        order_id = self.session.seen.orders[order] if order else None
        event_id = self.session.seen.events[event] if event else None
        rows = []
        for item in entries:
            linked = item if isinstance(item, LinkedEntry) else LinkedEntry(item)
            rows.append(
                entry_row(
                    customer_id,
                    linked.entry,
                    now=now,
                    order_id=order_id,
                    source=source,
                    event_id=event_id,
                    related_entry_id=linked.related_entry_id,
                )
            )
        insert = _INSERT_ONCE if once else _INSERT
        written = await self.conn.fetch(insert.statement(len(rows)), insert.params(rows))
        return [NewEntry(EntryKind(r["kind"]), Bucket(r["bucket"]), r["points"], r["reason"]) for r in written]

    async def record(
        self,
        customer: Customer,
        entries: Sequence[NewEntry],
        *,
        now: datetime,
        tier: str | None,
        order: str | None = None,
        source: str | None = None,
        spend: Decimal = Decimal(0),
        orders: int = 0,
    ) -> Balance:
        """Append entries and move the cached balance by exactly their sum."""
        await self.append(customer, entries, now=now, order=order, source=source)
        return await self.session.customers.move_balance(
            customer, entries, tier=tier, now=now, spend=spend, orders=orders
        )

    async def page(self, customer_external_id: str, first: int, before_id: int | None) -> tuple[list[LedgerRow], bool]:
        """Newest entries first; one extra row tells whether another page exists."""
        rows = await self.conn.fetch(
            PAGE,
            {"customer": customer_external_id, "before": before_id or _NO_CURSOR, "limit": first + 1},
        )
        page = [record(LedgerRow, LEDGER_ENTRIES.decode(row)) for row in rows[:first]]
        return page, len(rows) > first

    async def sums(self, customer_external_id: str) -> Balance:
        """The balance recomputed from the entries themselves (for audits and tests)."""
        rows = await self.conn.fetch(_SUMS, {"customer": customer_external_id})
        available = sum(int(r["points"]) for r in rows if r["bucket"] == "available")
        pending = sum(int(r["points"]) for r in rows if r["bucket"] == "pending")
        lifetime = sum(int(r["points"]) for r in rows if r["kind"] in ("earn", "reverse"))
        return Balance(available, pending, lifetime)
