"""What the scheduled jobs read: earn entries that are due, customer by customer.

Each job pages through customers by id (so a customer with nothing to do is not visited
twice in a run), then, with the customer locked, reads that customer's due entries again:
whatever a concurrent run wrote meanwhile is then seen and not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.customers import Customer
from persistence.repository import Repository
from persistence.statements import Statement

# An earn entry's pending points not yet released: no release pair relates to it.
_UNRELEASED = (
    "e.kind = 'earn' AND e.bucket = 'pending' AND e.available_at <= :now AND NOT EXISTS"
    " (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id AND r.kind = 'release'"
    " AND r.bucket = 'available')"
)

# An earn entry past its expiry whose points are available (earned so, or released) and
# that no expiry entry relates to yet. Pending points that were never released wait for
# the release job: they expire on the run after it.
_UNEXPIRED = (
    "e.kind = 'earn' AND e.expires_at IS NOT NULL AND e.expires_at <= :now"
    " AND (e.bucket = 'available' OR EXISTS (SELECT 1 FROM ledger_entries r WHERE r.related_entry_id = e.id"
    " AND r.kind = 'release' AND r.bucket = 'available'))"
    " AND NOT EXISTS (SELECT 1 FROM ledger_entries x WHERE x.related_entry_id = e.id AND x.kind = 'expire'"
    " AND x.bucket = 'available')"
)


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


_CUSTOMERS = (
    "SELECT c.id, c.external_id FROM customers c WHERE EXISTS"
    " (SELECT 1 FROM ledger_entries e WHERE {condition} AND e.customer_id = c.id)"
    " AND c.id > :after_id ORDER BY c.id LIMIT :limit"
)
_WITH_RELEASES = Statement(_CUSTOMERS.format(condition=_UNRELEASED))
_WITH_EXPIRIES = Statement(_CUSTOMERS.format(condition=_UNEXPIRED))
# Pending earn entries due for release, with what remains of each in the pending bucket
# (less any other pending entry related to it, such as a reversal).
_DUE_RELEASES = Statement(
    "SELECT e.id, e.rule_id, e.rules_version, e.points + COALESCE((SELECT SUM(o.points)"
    " FROM ledger_entries o WHERE o.related_entry_id = e.id AND o.bucket = 'pending'), 0)"
    f" + {_reversed('pending')} AS remaining"
    f" FROM ledger_entries e WHERE {_UNRELEASED} AND e.customer_id = :customer_id ORDER BY e.id"
)
# Earn entries past their expiry, oldest expiry first, with the points each put into the
# available bucket (earned there, or released to it, less reversals of it).
_DUE_EXPIRIES = Statement(
    "SELECT e.id, e.rule_id, e.rules_version,"
    " CASE WHEN e.bucket = 'available' THEN e.points ELSE 0 END + COALESCE((SELECT SUM(o.points)"
    " FROM ledger_entries o WHERE o.related_entry_id = e.id AND o.bucket = 'available'), 0)"
    f" + {_reversed('available')} AS remaining"
    f" FROM ledger_entries e WHERE {_UNEXPIRED} AND e.customer_id = :customer_id ORDER BY e.expires_at, e.id"
)


class Jobs(Repository):
    async def customers_with_releases(self, now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, external id) of customers with pending points due, in id order after `after_id`."""
        return await self._customers(_WITH_RELEASES, now, after_id, limit)

    async def customers_with_expiries(self, now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
        return await self._customers(_WITH_EXPIRIES, now, after_id, limit)

    async def _customers(self, statement: Statement, now: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
        rows = await self.conn.fetch(statement, {"now": now, "after_id": after_id, "limit": limit})
        return [(row["id"], row["external_id"]) for row in rows]

    async def due_releases(self, customer: Customer, now: datetime) -> list[DueEntry]:
        customer_id = self.session.customers.snapshot(customer).id
        return [_due(row) for row in await self.conn.fetch(_DUE_RELEASES, {"now": now, "customer_id": customer_id})]

    async def due_expiries(self, customer: Customer, now: datetime) -> list[DueEntry]:
        customer_id = self.session.customers.snapshot(customer).id
        return [_due(row) for row in await self.conn.fetch(_DUE_EXPIRIES, {"now": now, "customer_id": customer_id})]


def _due(row: dict) -> DueEntry:
    return DueEntry(
        id=row["id"],
        points=int(row["remaining"]),
        rule_id=row["rule_id"],
        rules_version=row["rules_version"],
    )
