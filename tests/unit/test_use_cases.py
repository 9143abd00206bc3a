"""Use cases on the fake unit of work (tests/fake_uow.py): what they ask of the database,
how they handle its refusals, without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app import customers, orders, redemptions, simulation
from domain.errors import DomainError, ErrorCode
from domain.history import RecordedEvent, RecordedOrder
from domain.ledger import Balance, EntryKind
from domain.orders import OrderInput, OrderLineInput
from domain.program import CustomerFacts, EventFacts, LineFacts, OrderFacts
from domain.rewards import CODE_PREFIX, Lot, Redemption, RedemptionState, redeemed_reward, redemption_request_hash
from persistence.adjustments import StoredAdjustment
from persistence.redemptions import StoredRedemption
from rules import load_program_from_sources
from tests.fake_uow import FakeUnitOfWork, Store

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)

PROGRAM = load_program_from_sources(
    {
        "program.yaml": """
program: {name: Fake, currency: EUR}
rewards:
  - {id: five-off, name: 5 EUR off, kind: fixed_discount, points_cost: 100, value: 5}
  - {id: mug, name: A mug, kind: free_product, points_cost: 50, sku: MUG, stock: 1}
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
    [(customer_id, entry, _)] = store.ledger
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
    assert len(store.ledger) == 1 and len(store.outbox) == 1
    assert store.customers["ada"].points_available == 25


async def test_a_retried_debit_is_answered_though_the_balance_no_longer_covers_it(store):
    store.customers["ada"].points_available = 30
    uow = FakeUnitOfWork(store)
    first = await adjust(uow, -30, key="k1")
    again = await adjust(uow, -30, key="k1")
    assert again.replayed and again.balance == first.balance == Balance(0, 0, 0)
    assert len(store.ledger) == 1


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
    assert (store.ledger, store.adjustments, store.outbox) == ([], {}, [])
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
    assert (store.customers["ada"].points_available, store.ledger, store.outbox) == (0, [], [])
    assert store.adjustments == {"k1": bobs} and bob.points_available == 0


async def test_an_unknown_customer_is_refused_by_the_domain_field_the_client_sent(store):
    uow = FakeUnitOfWork(store)
    with pytest.raises(DomainError) as refused:
        await adjust(uow, 25, customer="nobody")
    assert (refused.value.code, refused.value.field) == (ErrorCode.CUSTOMER_NOT_FOUND, ["customer_external_id"])
    assert store.ledger == []


# ---- redeemReward ---------------------------------------------------------------------------


async def test_a_redemption_spends_the_points_in_one_locked_transaction_oldest_lot_first(store):
    ada = store.customers["ada"]
    ada.points_available = 150
    store.lots[ada.id] = [Lot(entry_id=7, points=80, expires_at=None), Lot(entry_id=8, points=70, expires_at=None)]
    uow = FakeUnitOfWork(store)

    result = await redemptions.redeem_reward(uow, PROGRAM, "five-off", "ada", None)

    assert uow.sessions == ["locked"]
    redemption = result.redemption
    assert (result.replayed, redemption.state, redemption.points_spent) == (False, RedemptionState.ACTIVE, 100)
    assert redemption.code.startswith(CODE_PREFIX) and redemption.customer_external_id == "ada"
    assert store.customers["ada"].points_available == 50
    [(customer_id, entry, source)] = store.ledger
    assert (customer_id, entry.kind, entry.points, source) == (
        ada.id,
        EntryKind.REDEEM,
        -100,
        f"redemption:{redemption.id}",
    )
    assert store.redemption_lots == [(redemption.id, 7, 80), (redemption.id, 8, 20)]
    assert [(kind, payload["points"]) for kind, _, payload in store.outbox if kind == "points.redeemed"] == [
        ("points.redeemed", -100)
    ]
    assert [payload["code"] for kind, _, payload in store.outbox if kind == "reward.redeemed"] == [redemption.code]


async def test_a_redemption_beyond_the_available_points_is_refused_and_writes_nothing(store):
    store.customers["ada"].points_available, store.customers["ada"].points_pending = 99, 500
    uow = FakeUnitOfWork(store)

    with pytest.raises(DomainError) as refused:
        await redemptions.redeem_reward(uow, PROGRAM, "five-off", "ada", None)

    assert refused.value.code is ErrorCode.INSUFFICIENT_POINTS
    assert (store.customers["ada"].points_available, store.customers["ada"].points_pending) == (99, 500)
    assert store.redemptions == {} and store.ledger == [] and store.outbox == []


async def test_the_last_of_a_stock_goes_once(store):
    store.customers["ada"].points_available = 200
    uow = FakeUnitOfWork(store)
    await redemptions.redeem_reward(uow, PROGRAM, "mug", "ada", None)

    with pytest.raises(DomainError) as refused:
        await redemptions.redeem_reward(uow, PROGRAM, "mug", "ada", None)

    assert refused.value.code is ErrorCode.OUT_OF_STOCK
    assert store.stock_redeemed == {"mug": 1} and len(store.redemptions) == 1
    assert store.customers["ada"].points_available == 150


async def test_an_unknown_reward_is_refused_without_a_transaction(store):
    uow = FakeUnitOfWork(store)
    with pytest.raises(DomainError) as refused:
        await redemptions.redeem_reward(uow, PROGRAM, "no-such-reward", "ada", "key-1")
    assert refused.value.code is ErrorCode.REWARD_NOT_FOUND
    assert uow.sessions == ["read"]  # the key's look-up: a retry of a redemption made under older rules


async def test_a_retry_with_the_key_answers_the_first_redemption_and_spends_once(store):
    store.customers["ada"].points_available = 250
    uow = FakeUnitOfWork(store)
    first = await redemptions.redeem_reward(uow, PROGRAM, "five-off", "ada", "key-1")
    again = await redemptions.redeem_reward(uow, PROGRAM, "five-off", "ada", "key-1")

    assert again.replayed and again.redemption == first.redemption
    assert uow.sessions == ["read", "locked", "read"]
    assert store.customers["ada"].points_available == 150 and len(store.redemptions) == 1


async def test_the_key_with_another_reward_is_refused(store):
    store.customers["ada"].points_available = 250
    uow = FakeUnitOfWork(store)
    await redemptions.redeem_reward(uow, PROGRAM, "five-off", "ada", "key-1")
    with pytest.raises(DomainError) as refused:
        await redemptions.redeem_reward(uow, PROGRAM, "mug", "ada", "key-1")
    assert refused.value.code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert store.customers["ada"].points_available == 150


async def test_a_twin_request_that_won_the_race_is_answered_and_this_one_rolled_back(store):
    """Both looked the key up before either wrote; the twin committed first. This one's
    insert is refused by the key's unique index, its transaction rolls back, and it answers
    the twin's redemption."""
    ada = store.customers["ada"]
    ada.points_available = 250
    uow = FakeUnitOfWork(store)
    code = f"{CODE_PREFIX}-TWIN0-TWIN0-TWIN0-TWIN0"
    reward = PROGRAM.reward("five-off")
    assert reward is not None
    twin = Redemption(
        id=99,
        code=code,
        customer_external_id="ada",
        reward=redeemed_reward(reward, code),
        reward_name=reward.name,
        points_spent=100,
        state=RedemptionState.ACTIVE,
        created_at=NOW,
        expires_at=NOW + timedelta(days=30),
        currency="EUR",
        request_hash=redemption_request_hash("five-off", "ada"),
    )

    def twin_commits() -> None:
        uow.before_transaction = None
        store.customers["ada"].points_available -= 100
        store.redemptions[99] = StoredRedemption(twin, ada.id, 100)
        store.redemption_keys["key-1"] = 99

    uow.before_transaction = twin_commits
    result = await redemptions.redeem_reward(uow, PROGRAM, "five-off", "ada", "key-1")

    assert (result.replayed, result.redemption) == (True, twin)
    assert uow.sessions == ["read", "locked", "read"]
    assert store.customers["ada"].points_available == 150  # the twin's spending, not this one's too
    assert list(store.redemptions) == [99] and store.ledger == [] and store.outbox == []


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
