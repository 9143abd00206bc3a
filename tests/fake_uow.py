"""An in-memory unit of work, for unit tests of use cases without a database.

It offers what `persistence.unit_of_work.UnitOfWork` offers (`transaction()`, `reading()`,
`guarded(work)`) and sessions whose repositories keep their rows in dictionaries, with the
same functions, arguments and results as persistence's for the parts the tested use cases
reach. What the database enforces (an order id recorded once, a guarded write refused when
the customer changed since it was read) it enforces too, so the use cases' handling of
both is tested here.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from domain.customers import Customer
from domain.errors import DomainError, ErrorCode
from domain.history import RecordedEvent, RecordedOrder
from domain.ledger import Balance, NewEntry, earned_awards
from domain.orders import ValidOrder
from domain.program import Reward
from domain.rewards import Lot, Redemption, RedemptionState, redeemed_reward
from persistence.adjustments import StoredAdjustment
from persistence.history import Cursor, Page
from persistence.redemptions import StoredRedemption, source_of
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
    """(order id, entry): what orders earned."""
    ledger: list[tuple[int, NewEntry, str | None]] = field(default_factory=list)
    """(customer id, entry, source): entries written otherwise (redemptions, adjustments)."""
    adjustments: dict[str, StoredAdjustment] = field(default_factory=dict)
    outbox: list[tuple[str, str | None, dict]] = field(default_factory=list)
    lots: dict[int, list[Lot]] = field(default_factory=dict)
    """Customer id -> what their earn entries still hold (none: every point untraced)."""
    redemptions: dict[int, StoredRedemption] = field(default_factory=dict)
    redemption_keys: dict[str, int] = field(default_factory=dict)
    redemption_lots: list[tuple[int, int, int]] = field(default_factory=list)
    """(redemption id, earn entry id, points)."""
    stock_redeemed: dict[str, int] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    before_write: Callable[[], None] | None = None
    """Runs before each guarded write: a test changes a customer here to make it stale."""
    recorded_orders: list[RecordedOrder] = field(default_factory=list)
    """The history a backtest replays, oldest first."""
    recorded_events: list[RecordedEvent] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    """The history statements run, by function name."""

    meanwhile: list[Callable[[], None]] = field(default_factory=list)
    """What `before_write` did during the transaction open now: another transaction's
    commit, which a rollback of this one must not undo."""

    _KEPT_BY_ROLLBACK = ("ids", "before_write", "meanwhile")

    def run_before_write(self) -> None:
        if self.before_write:
            self.before_write()
            self.meanwhile.append(self.before_write)

    def snapshot(self) -> dict[str, Any]:
        return {
            f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name not in self._KEPT_BY_ROLLBACK
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """A transaction rolled back: its writes undone (ids taken stay taken, as sequences do)."""
        for name, value in snapshot.items():
            setattr(self, name, value)
        for committed in self.meanwhile:
            committed()

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

    async def apply_entries(
        self,
        customer: CustomerRow,
        entries: Sequence[NewEntry],
        *,
        now: datetime,
        order: int | None = None,
        source: str | None = None,
        tier: str | None = None,
        spend: Decimal = Decimal(0),
        orders: int = 0,
    ) -> Balance:
        """As persistence: the entries appended, the stored balance moved by their sum; the
        balance after, as the row read under the lock gives it."""
        self.store.ledger += [(customer.id, entry, source) for entry in entries]
        before = Balance(customer.points_available, customer.points_pending, customer.lifetime_earned)
        after = before.after(entries)
        current = self.store.customers[customer.external_id]
        current.points_available += after.available - before.available
        current.points_pending += after.pending - before.pending
        current.lifetime_earned += after.lifetime_earned - before.lifetime_earned
        current.tier = tier
        current.lifetime_spend += spend
        current.order_count += orders
        return after

    async def add_events(
        self, events: Sequence[tuple[str, str | None, dict]], now: datetime, rules_version: str | None = None
    ) -> None:
        self.store.outbox += list(events)

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
        self.store.run_before_write()
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
    def __init__(self, store: Store):
        self.store = store

    async def find_by_codes(self, codes: Sequence[str]) -> dict[str, StoredRedemption]:
        found = (s for s in self.store.redemptions.values() if s.redemption.code in codes)
        return {s.redemption.code: s for s in found}

    async def find_by_code(self, code: str) -> StoredRedemption | None:
        return (await self.find_by_codes([code])).get(code)

    async def find_by_key(self, idempotency_key: str) -> StoredRedemption | None:
        redemption_id = self.store.redemption_keys.get(idempotency_key)
        return None if redemption_id is None else self.store.redemptions[redemption_id]

    async def lots(self, customer_id: int) -> list[Lot]:
        return [lot for lot in self.store.lots.get(customer_id, []) if lot.points > 0]

    async def uses(self, customer_id: int, since: dict[str, datetime | None]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stored in self.store.redemptions.values():
            redemption, reward_id = stored.redemption, stored.redemption.reward.reward_id
            if stored.customer_id != customer_id or reward_id not in since:
                continue
            start = since[reward_id]
            if redemption.state in (RedemptionState.ACTIVE, RedemptionState.USED) and (
                start is None or redemption.created_at >= start
            ):
                counts[reward_id] = counts.get(reward_id, 0) + 1
        return counts

    async def lock_stock(self, reward: Reward) -> int:
        assert reward.stock is not None
        return max(0, reward.stock - self.store.stock_redeemed.setdefault(reward.id, 0))

    async def move_stock(self, reward_id: str, delta: int) -> None:
        if reward_id in self.store.stock_redeemed:
            self.store.stock_redeemed[reward_id] += delta

    async def insert(
        self,
        customer_id: int,
        reward: Reward,
        *,
        code: str,
        currency: str,
        untraced: int,
        rules_version: str,
        idempotency_key: str | None,
        request_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        if idempotency_key is not None and idempotency_key in self.store.redemption_keys:
            raise IntegrityError(f"duplicate key value violates unique constraint: key {idempotency_key}")
        owner = next(row for row in self.store.customers.values() if row.id == customer_id)
        redemption_id = next(self.store.ids)
        redemption = Redemption(
            id=redemption_id,
            code=code,
            customer_external_id=owner.external_id,
            reward=redeemed_reward(reward, code),
            reward_name=reward.name,
            points_spent=reward.points_cost,
            state=RedemptionState.ACTIVE,
            created_at=now,
            expires_at=expires_at,
            currency=currency,
            request_hash=request_hash,
        )
        self.store.redemptions[redemption_id] = StoredRedemption(redemption, customer_id, untraced)
        if idempotency_key is not None:
            self.store.redemption_keys[idempotency_key] = redemption_id
        return redemption_id

    async def add_lots(self, redemption_id: int, taken: Sequence[tuple[int, int]], now: datetime) -> None:
        self.store.redemption_lots += [(redemption_id, entry_id, points) for entry_id, points in taken]

    def source_of(self, redemption_id: int) -> str:
        return source_of(redemption_id)


class FakeAdjustments:
    def __init__(self, store: Store):
        self.store = store

    async def insert_adjustment(self, idempotency_key: str, customer_id: int, request_hash: str, now: datetime) -> None:
        self.store.run_before_write()
        if idempotency_key in self.store.adjustments:
            raise IntegrityError(f"duplicate key value violates unique constraint: adjustment {idempotency_key}")
        customer = next(c for c in self.store.customers.values() if c.id == customer_id)
        # The customer's balance now: the sum of their entries up to the adjustment's.
        balance = Balance(customer.points_available, customer.points_pending, customer.lifetime_earned)
        self.store.adjustments[idempotency_key] = StoredAdjustment(
            idempotency_key, customer.external_id, request_hash, balance
        )

    async def find_adjustment(self, idempotency_key: str) -> StoredAdjustment | None:
        return self.store.adjustments.get(idempotency_key)


class FakeReads:
    def __init__(self, store: Store):
        self.store = store

    async def customer(self, external_id: str) -> Customer | None:
        row = self.store.customers.get(external_id)
        return to_customer(row) if row else None


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
        self.redemptions = FakeRedemptions(store)
        self.adjustments = FakeAdjustments(store)
        self.reads = FakeReads(store)
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
        self.before_transaction: Callable[[], None] | None = None
        """Runs as a transaction begins: a test plays what another request committed just before."""

    @asynccontextmanager
    async def _session(self, mode: str) -> AsyncIterator[FakeSession]:
        self.sessions.append(mode)
        if mode == "locked" and self.before_transaction:
            self.before_transaction()
        # A transaction that fails writes nothing; other sessions' statements each commit.
        saved = self.store.snapshot() if mode == "locked" else None
        self.store.meanwhile.clear()
        try:
            yield FakeSession(self.store, mode)
        except BaseException:
            if saved is not None:
                self.store.restore(saved)
            raise

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
