"""An in-memory unit of work, for unit tests of use cases without a database.

It offers what `persistence.unit_of_work.UnitOfWork` offers (`transaction()`, `reading()`,
`guarded(work)`) and sessions whose repositories keep their rows in dictionaries, with the
same functions, arguments and results as persistence's for the parts the tested use cases
reach. What the database enforces (an order id recorded once, a guarded write refused when
the customer changed since it was read) it enforces too, so the use cases' handling of
both is tested here.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from domain.customers import Customer
from domain.errors import DomainError, ErrorCode
from domain.history import RecordedEvent, RecordedOrder
from domain.ledger import Balance, NewEntry, earned_awards
from domain.orders import ValidOrder
from persistence.history import Cursor, Page
from persistence.repositories import StoredOrder, to_customer
from persistence.rows import CustomerRow
from persistence.session import NeedsLock
from persistence.sql import IntegrityError

T = TypeVar("T")


@dataclass
class Store:
    """The fake database: what every session of one fake unit of work sees."""

    customers: dict[str, CustomerRow] = field(default_factory=dict)
    orders: dict[str, StoredOrder] = field(default_factory=dict)
    order_ids: dict[str, int] = field(default_factory=dict)
    entries: list[tuple[int, NewEntry]] = field(default_factory=list)
    outbox: list[tuple[str, str, dict]] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    before_write: Callable[[], None] | None = None
    """Runs before each guarded write: a test changes a customer here to make it stale."""
    recorded_orders: list[RecordedOrder] = field(default_factory=list)
    """The history a backtest replays, oldest first."""
    recorded_events: list[RecordedEvent] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    """The history statements run, by function name."""

    def add_customer(self, external_id: str, *, now: datetime, **values: Any) -> CustomerRow:
        row = CustomerRow(
            id=next(self.ids),
            external_id=external_id,
            email=f"{external_id}@example.com",
            name=None,
            birthday=None,
            tags=[],
            attributes={},
            referral_code=None,
            referred_by_id=None,
            tier=None,
            points_available=0,
            points_pending=0,
            lifetime_earned=0,
            lifetime_spend=Decimal(0),
            order_count=0,
            last_order_at=None,
            enrolled_at=now,
            tier_reviewed_at=None,
            birthday_year=None,
        )
        for name, value in values.items():
            setattr(row, name, value)
        self.customers[external_id] = row
        return row


class FakeCustomers:
    def __init__(self, store: Store):
        self.store = store

    async def read_customer(self, external_id: str, field: list[str]) -> CustomerRow:
        row = self.store.customers.get(external_id)
        if row is None:
            raise DomainError(ErrorCode.CUSTOMER_NOT_FOUND, f"No customer has the external id '{external_id}'.", field)
        return replace(row)  # a snapshot, as a SELECT gives it

    lock_customer = read_customer

    def to_customer(self, row: CustomerRow) -> Customer:
        return to_customer(row)

    async def find_order(self, external_id: str) -> StoredOrder | None:
        """As stored, with what its earn entries record (as persistence reads it back)."""
        stored = self.store.orders.get(external_id)
        if stored is None:
            return None
        order_id = self.store.order_ids[external_id]
        return replace(stored, awards=earned_awards([e for i, e in self.store.entries if i == order_id]))


class FakeOrders:
    def __init__(self, store: Store):
        self.store = store

    async def write_order(
        self,
        customer: CustomerRow,
        order: ValidOrder,
        entries: Sequence[NewEntry],
        *,
        points: int,
        rules_version: str,
        tier: str | None,
        events: Sequence[tuple[str, str, dict]],
        now: datetime,
    ) -> tuple[int, StoredOrder] | None:
        if self.store.before_write:
            self.store.before_write()
        if order.external_id in self.store.orders:
            raise IntegrityError(f"duplicate key value violates unique constraint: order {order.external_id}")
        current = self.store.customers[customer.external_id]
        guard = ("order_count", "lifetime_earned", "lifetime_spend", "tier", "points_available", "points_pending")
        if any(getattr(current, name) != getattr(customer, name) for name in guard):
            return None  # the guard: the customer changed since it was read
        balance = Balance(current.points_available, current.points_pending, current.lifetime_earned).after(entries)
        current.points_available, current.points_pending = balance.available, balance.pending
        current.lifetime_earned, current.tier = balance.lifetime_earned, tier
        current.lifetime_spend += order.converted.subtotal
        current.order_count += 1
        order_id = next(self.store.ids)
        stored = StoredOrder(
            external_id=order.external_id,
            customer_external_id=customer.external_id,
            currency=order.facts.currency,
            placed_at=order.placed_at or now,
            subtotal=order.facts.subtotal,
            shipping_amount=order.facts.shipping_amount,
            points_earned=points,
            rules_version=rules_version,
            request_hash=order.request_hash,
            program_currency=order.converted.program_currency,
            program_subtotal=order.converted.subtotal,
            exchange_rate=order.converted.rate,
        )
        self.store.orders[order.external_id] = stored
        self.store.order_ids[order.external_id] = order_id
        self.store.entries += [(order_id, entry) for entry in entries]
        self.store.outbox += list(events)
        return order_id, stored


class FakeRedemptions:
    """No redemption exists: enough for the refusals a use case makes of unknown codes."""

    async def find_by_codes(self, codes: Sequence[str]) -> dict:
        return {}


class FakeHistory:
    """Pages of the recorded history as persistence.history pages them: in [since, until),
    after a cursor of (time, position), one statement per page."""

    def __init__(self, store: Store):
        self.store = store

    async def counts(self, since: datetime, until: datetime) -> tuple[int, int]:
        self.store.statements.append("counts")
        return (
            len(self._within(self.store.recorded_orders, since, until, None)),
            len(self._within(self.store.recorded_events, since, until, None)),
        )

    async def orders_page(self, since: datetime, until: datetime, after: Cursor | None, limit: int) -> Page:
        self.store.statements.append("orders_page")
        return self._page(self.store.recorded_orders, since, until, after, limit)

    async def events_page(self, since: datetime, until: datetime, after: Cursor | None, limit: int) -> Page:
        self.store.statements.append("events_page")
        return self._page(self.store.recorded_events, since, until, after, limit)

    def _within(self, items: Sequence[Any], since: datetime, until: datetime, after: Cursor | None) -> list:
        start = (after.at, after.id) if after else (since, 0)
        return [(n, item) for n, item in enumerate(items, 1) if since <= item.at < until and (item.at, n) > start]

    def _page(self, items: Sequence[Any], since: datetime, until: datetime, after: Cursor | None, limit: int) -> Page:
        found = self._within(items, since, until, after)[:limit]
        last = Cursor(found[-1][1].at, found[-1][0]) if len(found) == limit else None
        return Page([item for _, item in found], last)


class FakeSession:
    def __init__(self, store: Store, mode: str):
        self.mode = mode
        self.customers = FakeCustomers(store)
        self.orders = FakeOrders(store)
        self.redemptions = FakeRedemptions()
        self.history = FakeHistory(store)

    @property
    def locked(self) -> bool:
        return self.mode == "locked"

    def needs_lock(self) -> None:
        if not self.locked:
            raise NeedsLock()


class FakeUnitOfWork:
    """`guards_writes`: behave as PostgreSQL does (unlocked tries first) or as SQLite."""

    def __init__(self, store: Store | None = None, *, guards_writes: bool = True):
        self.store = store or Store()
        self.guards_writes = guards_writes
        self.sessions: list[str] = []
        """The mode of every session opened, in order: what the use case asked for."""

    @asynccontextmanager
    async def _session(self, mode: str) -> AsyncIterator[FakeSession]:
        self.sessions.append(mode)
        yield FakeSession(self.store, mode)

    def transaction(self) -> Any:
        return self._session("locked")

    def reading(self) -> Any:
        return self._session("read")

    async def guarded(self, work: Callable[[Any], Awaitable[T | None]]) -> T:
        if self.guards_writes:
            for _ in range(2):
                try:
                    async with self._session("unlocked") as session:
                        result = await work(session)
                except NeedsLock:
                    break
                if result is not None:
                    return result
        async with self.transaction() as session:
            result = await work(session)
        assert result is not None
        return result
