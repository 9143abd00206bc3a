"""A unit of work in memory, for use cases tested without a database (cosmicpython's
FakeUnitOfWork). It keeps what the real one promises: a transaction's writes all happen
or none do, an external id is recorded once (AlreadyStored), balances move by their
entries. Only the repository methods the unit tests' use cases call are here."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from domain.customers import Customer, EnrollmentInput
from domain.ledger import Balance, NewEntry, earned_awards
from domain.orders import ValidOrder
from domain.program import UsageSnapshot
from persistence.adjustments import StoredAdjustment
from persistence.orders import StoredOrder, order_row
from persistence.unit_of_work import AlreadyStored

T = TypeVar("T")


@dataclass
class Store:
    customers: dict[str, Customer] = field(default_factory=dict)
    orders: dict[str, StoredOrder] = field(default_factory=dict)
    entries: list[tuple[str, NewEntry, dict]] = field(default_factory=list)
    """(customer external id, entry, its links: order, source)"""
    outbox: list[tuple[str, str | None, dict]] = field(default_factory=list)
    uses: list[tuple[str, str, int]] = field(default_factory=list)
    adjustments: dict[str, StoredAdjustment] = field(default_factory=dict)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.store = Store()
        self.commits = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeSession]:
        working = copy.deepcopy(self.store)
        yield FakeSession(working)
        self.store = working  # only when the work raised nothing
        self.commits += 1

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[FakeSession]:
        yield FakeSession(copy.deepcopy(self.store))

    async def guarded(self, work: Callable[[FakeSession], Awaitable[T]]) -> T:
        async with self.transaction() as session:
            return await work(session)


class FakeSession:
    def __init__(self, store: Store):
        self.store = store
        self.customers = _Customers(store)
        self.orders = _Orders(store, self)
        self.ledger = _Ledger(store, self)
        self.outbox = _Outbox(store)
        self.limits = _Limits(store)
        self.adjustments = _Adjustments(store)


class _Customers:
    def __init__(self, store: Store):
        self.store = store

    async def get(self, external_id: str) -> Customer | None:
        return self.store.customers.get(external_id)

    get_for_change = get

    async def add(self, data: EnrollmentInput, tier: str | None, now: datetime) -> Customer:
        if data.external_id in self.store.customers:
            raise AlreadyStored(data.external_id)
        customer = Customer(
            external_id=data.external_id,
            email=data.email,
            name=data.name,
            birthday=data.birthday,
            tier=tier,
            balance=Balance(),
            lifetime_spend=Decimal(0),
            order_count=0,
            last_order_at=None,
            enrolled_at=now,
            tags=data.tags,
            referral_code=data.referral_code,
        )
        self.store.customers[customer.external_id] = customer
        return customer

    async def move_balance(
        self,
        customer: Customer,
        entries: Sequence[NewEntry],
        *,
        tier: str | None,
        now: datetime | None = None,
        spend: Decimal = Decimal(0),
        orders: int = 0,
    ) -> Balance:
        stored = self.store.customers[customer.external_id]
        after = stored.balance.after(entries)
        self.store.customers[customer.external_id] = replace(
            stored,
            balance=after,
            tier=tier,
            lifetime_spend=stored.lifetime_spend + spend,
            order_count=stored.order_count + orders,
            last_order_at=now if orders else stored.last_order_at,
        )
        return after


class _Orders:
    def __init__(self, store: Store, session: FakeSession):
        self.store = store
        self.session = session

    async def add(
        self,
        customer: Customer,
        order: ValidOrder,
        entries: Sequence[NewEntry],
        *,
        rules_version: str,
        tier: str | None,
        events: Sequence[tuple[str, str | None, dict]],
        now: datetime,
    ) -> StoredOrder:
        if order.external_id in self.store.orders:
            raise AlreadyStored(order.external_id)
        points = sum(e.points for e in entries)
        _, stored = order_row(0, customer, order, points=points, rules_version=rules_version, now=now)
        stored = replace(stored, awards=earned_awards(entries))
        self.store.orders[order.external_id] = stored
        await self.session.ledger.record(
            customer, entries, now=now, tier=tier, order=order.external_id, spend=order.converted.subtotal, orders=1
        )
        await self.session.outbox.add(events, now)
        return stored

    async def get(self, external_id: str) -> StoredOrder | None:
        return self.store.orders.get(external_id)


class _Ledger:
    def __init__(self, store: Store, session: FakeSession):
        self.store = store
        self.session = session

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
        for entry in entries:
            self.store.entries.append((customer.external_id, entry, {"order": order, "source": source}))
        return await self.session.customers.move_balance(
            customer, entries, tier=tier, now=now, spend=spend, orders=orders
        )

    async def sums(self, customer_external_id: str) -> Balance:
        return Balance.of(entry for owner, entry, _ in self.store.entries if owner == customer_external_id)


class _Outbox:
    def __init__(self, store: Store):
        self.store = store

    async def add(self, events: Sequence[tuple[str, str | None, dict]], now: datetime) -> None:
        self.store.outbox.extend(events)


class _Limits:
    def __init__(self, store: Store):
        self.store = store

    async def usage(
        self, customer: Customer, periods: Mapping[str, datetime | None], budget_rules: Sequence[str]
    ) -> UsageSnapshot:
        uses: dict[str, int] = {}
        for owner, rule_id, count in self.store.uses:
            if owner == customer.external_id and rule_id in periods:
                uses[rule_id] = uses.get(rule_id, 0) + count
        return UsageSnapshot(customer_uses=uses, program_points={rule_id: 0 for rule_id in budget_rules})

    async def record(self, customer: Customer, uses: Mapping[str, int], budget_rules: Any, now: Any, **_: Any) -> None:
        self.store.uses.extend((customer.external_id, rule_id, 1) for rule_id in uses)


class _Adjustments:
    def __init__(self, store: Store):
        self.store = store

    async def add(self, idempotency_key: str, customer: Customer, request_hash: str, now: datetime) -> None:
        if idempotency_key in self.store.adjustments:
            raise AlreadyStored(idempotency_key)
        balance = self.store.customers[customer.external_id].balance
        self.store.adjustments[idempotency_key] = StoredAdjustment(
            idempotency_key, customer.external_id, request_hash, balance
        )

    async def get(self, idempotency_key: str) -> StoredAdjustment | None:
        return self.store.adjustments.get(idempotency_key)
