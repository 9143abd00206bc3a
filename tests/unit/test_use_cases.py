"""Use cases on the fake unit of work (tests/fake_uow.py): what they ask of the database,
how they handle its refusals, without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app import orders, simulation
from domain.errors import DomainError, ErrorCode
from domain.history import RecordedEvent, RecordedOrder
from domain.orders import OrderInput, OrderLineInput
from domain.program import CustomerFacts, EventFacts, LineFacts, OrderFacts
from domain.rewards import CODE_PREFIX
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


CANDIDATE = load_program_from_sources(
    {
        "program.yaml": PROGRAM.sources["program.yaml"].replace("per_unit: 1", "per_unit: 2")
        + """
  - id: review-bonus
    on: review.published
    then: {points: {fixed: 10}}
"""
    }
)


def recorded(number: int, hours: int, tier: str = "Bronze", price: str = "10.00") -> RecordedOrder:
    return RecordedOrder(
        external_id=f"o{number}",
        at=NOW + timedelta(hours=hours),
        customer=CustomerFacts("ada", tier=tier),
        order=OrderFacts("EUR", (LineFacts("SKU-1", 1, Decimal(price)),)),
        program_currency="EUR",
        rate=Decimal(1),
    )


async def test_a_backtest_reads_history_a_page_at_a_time_and_writes_nothing(store, monkeypatch):
    monkeypatch.setattr(simulation, "PAGE", 2)
    store.recorded_orders = [
        recorded(0, -1),  # before the period
        *(recorded(n, n) for n in range(1, 5)),
        recorded(5, 5, tier="Silver", price="20.00"),
    ]
    review = RecordedEvent("r1", NOW + timedelta(hours=6), CustomerFacts("ada"), EventFacts("review.published"))
    store.recorded_events = [review]
    uow = FakeUnitOfWork(store)

    result = await simulation.simulate_rules(uow, PROGRAM, CANDIDATE, simulation.period(NOW, NOW + timedelta(days=1)))

    # Five orders in pages of two (the last short), then the events: one statement each.
    assert store.statements == ["counts", "orders_page", "orders_page", "orders_page", "events_page"]
    assert set(uow.sessions) == {"read"}
    assert (result.orders, result.events) == (5, 1)
    rules = {rule.rule_id: rule for rule in result.rules}
    assert (rules["base-earn"].current.points, rules["base-earn"].candidate.points) == (60, 120)
    assert (rules["silver-double"].current.fired, rules["silver-double"].points_change) == (1, 20)
    added = rules["review-bonus"]
    assert (added.in_force, added.in_candidate, added.candidate.fired, added.candidate.points) == (False, True, 1, 10)
    assert result.candidate_total.points - result.current_total.points == 60 + 20 + 10
    assert store.orders == {} and store.entries == [] and store.outbox == []
