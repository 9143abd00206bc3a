"""Use cases on the fake unit of work (tests/fake_uow.py): what they ask of the database,
how they handle its refusals, without one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app import customers, orders
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance, EntryKind
from domain.orders import OrderInput, OrderLineInput
from domain.rewards import CODE_PREFIX
from persistence.adjustments import StoredAdjustment
from rules import load_program_from_sources
from tests.fake_uow import FakeUnitOfWork, Store

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)

PROGRAM = load_program_from_sources(
    {
        "program.yaml": """
program: {name: Fake, currency: EUR}
tiers:
  - {name: Bronze, threshold: 0}
  - {name: Silver, threshold: 100, benefits: {multiplier: 2}}
rules:
  - id: base-earn
    then: {points: {per_unit: 1}}
  - id: silver-double
    when: {customer: {tier: Silver}}
    then: {points: {multiply: tier}}
"""
    }
)


def order(external_id: str, price: str = "60.00", customer: str = "ada", coupons: tuple[str, ...] = ()) -> OrderInput:
    return OrderInput(
        external_id, customer, "EUR", (OrderLineInput("SKU-1", 1, price),), placed_at=NOW, coupon_codes=coupons
    )


@pytest.fixture
def store() -> Store:
    store = Store()
    store.add_customer("ada", now=NOW, tier="Bronze")
    return store


async def test_an_order_is_one_guarded_write_without_a_lock(store):
    uow = FakeUnitOfWork(store)
    result = await orders.record_order(uow, PROGRAM, order("o1"))
    assert (result.points_earned, result.replayed) == (60, False)
    assert uow.sessions == ["unlocked"]
    ada = store.customers["ada"]
    assert (ada.points_available, ada.order_count, ada.lifetime_spend) == (60, 1, Decimal("60.00"))


async def test_a_replay_answers_the_first_result_and_writes_nothing(store):
    uow = FakeUnitOfWork(store)
    first = await orders.record_order(uow, PROGRAM, order("o1"))
    again = await orders.record_order(uow, PROGRAM, order("o1"))
    assert again.replayed and again.order == first.order
    assert store.customers["ada"].points_available == 60
    assert len(store.entries) == 1


async def test_the_same_id_with_other_content_is_refused(store):
    uow = FakeUnitOfWork(store)
    await orders.record_order(uow, PROGRAM, order("o1"))
    with pytest.raises(DomainError) as refused:
        await orders.record_order(uow, PROGRAM, order("o1", price="70.00"))
    assert refused.value.code is ErrorCode.IDEMPOTENCY_CONFLICT


async def test_a_customer_changed_meanwhile_is_read_again_and_earns_by_the_fresh_facts(store):
    """Another order made Ada Silver between the read and the write: the guard refuses,
    and the retry earns at Silver's rate."""
    changes = iter([lambda ada: setattr(ada, "tier", "Silver")])

    def meanwhile() -> None:
        change = next(changes, None)
        if change:
            change(store.customers["ada"])

    store.before_write = meanwhile
    uow = FakeUnitOfWork(store)
    result = await orders.record_order(uow, PROGRAM, order("o1"))
    assert uow.sessions == ["unlocked", "unlocked"]
    assert result.points_earned == 120


async def test_a_customer_that_keeps_changing_is_locked_on_the_third_try(store):
    def always() -> None:
        store.customers["ada"].points_pending += 1

    store.before_write = always
    uow = FakeUnitOfWork(store)
    # Under the lock nobody changes the customer: this fake's writes do, so stop them there.
    original = uow.transaction

    def locked():
        store.before_write = None
        return original()

    uow.transaction = locked  # type: ignore[method-assign]
    result = await orders.record_order(uow, PROGRAM, order("o1"))
    assert uow.sessions == ["unlocked", "unlocked", "locked"]
    assert result.points_earned == 60


async def test_without_guarded_writes_an_order_is_one_locked_transaction(store):
    uow = FakeUnitOfWork(store, guards_writes=False)
    await orders.record_order(uow, PROGRAM, order("o1"))
    assert uow.sessions == ["locked"]


async def test_an_unknown_customer_is_refused_and_nothing_is_written(store):
    uow = FakeUnitOfWork(store)
    with pytest.raises(DomainError) as refused:
        await orders.record_order(uow, PROGRAM, order("o1", customer="nobody"))
    assert refused.value.code is ErrorCode.CUSTOMER_NOT_FOUND
    assert store.orders == {} and store.entries == []


async def test_a_redemption_code_takes_the_lock_before_anything_is_read(store):
    uow = FakeUnitOfWork(store)
    with pytest.raises(DomainError) as refused:
        await orders.record_order(uow, PROGRAM, order("o1", coupons=(f"{CODE_PREFIX}-NOPE-NOPE",)))
    assert refused.value.code is ErrorCode.COUPON_NOT_FOUND
    assert uow.sessions == ["unlocked", "locked"]
    assert store.orders == {}


# ---- adjustPoints ----------------------------------------------------------------------------


async def adjust(
    uow: FakeUnitOfWork, points: int, key: str | None = None, customer: str = "ada", reason: str = "late parcel"
) -> customers.AdjustmentResult:
    return await customers.adjust_points(uow, PROGRAM, customer, points, reason, "api-key:ops", key)


async def test_an_adjustment_is_one_transaction_that_moves_the_balance_by_its_entry(store):
    uow = FakeUnitOfWork(store)
    result = await adjust(uow, 25)
    assert uow.sessions == ["locked"]
    assert result.balance == result.customer.balance == Balance(25, 0, 0)
    assert not result.replayed
    assert store.customers["ada"].points_available == 25
    [(customer_id, entry)] = store.applied
    assert (customer_id, entry.kind, entry.points, entry.reason) == (
        store.customers["ada"].id,
        EntryKind.ADJUST,
        25,
        "late parcel",
    )
    [(kind, customer, payload)] = store.outbox
    assert (kind, customer, payload["by"], payload["balanceAfter"]["available"]) == (
        "points.adjusted",
        "ada",
        "api-key:ops",
        25,
    )


async def test_a_retry_with_the_key_answers_the_first_result_and_writes_nothing(store):
    uow = FakeUnitOfWork(store)
    first = await adjust(uow, 25, key="k1")
    again = await adjust(uow, 25, key="k1")
    assert (again.replayed, again.balance) == (True, first.balance)
    assert uow.sessions == ["locked", "locked"]  # found under the customer's lock, not written twice
    assert len(store.applied) == 1 and len(store.outbox) == 1
    assert store.customers["ada"].points_available == 25


async def test_a_retried_debit_is_answered_though_the_balance_no_longer_covers_it(store):
    store.customers["ada"].points_available = 30
    uow = FakeUnitOfWork(store)
    first = await adjust(uow, -30, key="k1")
    again = await adjust(uow, -30, key="k1")
    assert again.replayed and again.balance == first.balance == Balance(0, 0, 0)
    assert len(store.applied) == 1


async def test_the_key_again_with_other_content_is_refused(store):
    uow = FakeUnitOfWork(store)
    await adjust(uow, 25, key="k1")
    with pytest.raises(DomainError) as refused:
        await adjust(uow, 26, key="k1")
    assert (refused.value.code, refused.value.field) == (ErrorCode.IDEMPOTENCY_CONFLICT, ["idempotency_key"])
    assert store.customers["ada"].points_available == 25


async def test_a_debit_past_the_balance_is_refused_and_nothing_is_written(store):
    store.customers["ada"].points_available = 10
    uow = FakeUnitOfWork(store)
    with pytest.raises(DomainError) as refused:
        await adjust(uow, -11, key="k1")
    assert refused.value.code is ErrorCode.INSUFFICIENT_POINTS
    assert (store.applied, store.adjustments, store.outbox) == ([], {}, [])
    assert store.customers["ada"].points_available == 10


async def test_a_key_taken_meanwhile_for_another_customer_undoes_the_adjustment_and_is_refused(store):
    """Bob's adjustment with the same key commits between Ada's look-up of the key and her
    write of it: her transaction fails on the key's unique index, leaves nothing, and the
    key is read again (outside it) to answer."""
    bob = store.add_customer("bob", now=NOW)
    bobs = StoredAdjustment("k1", "bob", "another request", Balance(5, 0, 0))

    def meanwhile() -> None:
        store.adjustments.setdefault("k1", bobs)

    store.before_write = meanwhile
    uow = FakeUnitOfWork(store)
    with pytest.raises(DomainError) as refused:
        await adjust(uow, 25, key="k1")
    assert refused.value.code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert uow.sessions == ["locked", "read"]
    assert (store.customers["ada"].points_available, store.applied, store.outbox) == (0, [], [])
    assert store.adjustments == {"k1": bobs} and bob.points_available == 0


async def test_an_unknown_customer_is_refused_by_the_domain_field_the_client_sent(store):
    uow = FakeUnitOfWork(store)
    with pytest.raises(DomainError) as refused:
        await adjust(uow, 25, customer="nobody")
    assert (refused.value.code, refused.value.field) == (ErrorCode.CUSTOMER_NOT_FOUND, ["customer_external_id"])
    assert store.applied == []
