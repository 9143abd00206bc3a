"""Use cases on the fake unit of work: no database, the same code the API runs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app import customers, orders
from domain.customers import EnrollmentInput
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance
from domain.orders import OrderInput, OrderLineInput
from rules import Program, load_program_from_sources
from tests.conftest import TEST_RULES_DIR
from tests.fake_uow import FakeUnitOfWork


@pytest.fixture(scope="module")
def program() -> Program:
    return load_program_from_sources({p.name: p.read_text() for p in TEST_RULES_DIR.glob("*.yaml")})


@pytest.fixture
async def uow(program: Program) -> FakeUnitOfWork:
    fake = FakeUnitOfWork()
    await customers.enroll_customer(fake, program, EnrollmentInput("cust-1", "one@example.com"))
    return fake


def an_order(external_id: str = "order-1", price: str = "42.00") -> OrderInput:
    return OrderInput(external_id, "cust-1", "EUR", (OrderLineInput("SKU-1", 1, price),))


async def test_an_order_earns_its_points_and_moves_the_balance_by_its_entries(uow, program):
    result = await orders.record_order(uow, program, an_order())

    assert (result.points_earned, result.replayed) == (42, False)
    stored = uow.store.customers["cust-1"]
    assert stored.balance == Balance(42, 0, 42)
    assert (stored.order_count, stored.lifetime_spend) == (1, Decimal("42.00"))
    async with uow.reading() as session:
        assert await session.ledger.sums("cust-1") == stored.balance
    assert [t for t, _, _ in uow.store.outbox] == ["customer.enrolled", "points.earned"]


async def test_a_replayed_order_earns_once_and_answers_the_first_result(uow, program):
    first = await orders.record_order(uow, program, an_order())
    again = await orders.record_order(uow, program, an_order())

    assert again.replayed is True
    assert (again.order, again.points_earned) == (first.order, 42)
    assert uow.store.customers["cust-1"].balance == Balance(42, 0, 42)
    assert len(uow.store.entries) == 1


async def test_the_same_order_id_with_other_content_is_refused_and_writes_nothing(uow, program):
    await orders.record_order(uow, program, an_order())

    with pytest.raises(DomainError) as refused:
        await orders.record_order(uow, program, an_order(price="99.00"))

    assert (refused.value.code, refused.value.field) == (ErrorCode.IDEMPOTENCY_CONFLICT, ["external_id"])
    assert uow.store.customers["cust-1"].balance == Balance(42, 0, 42)


async def test_an_order_for_an_unknown_customer_names_the_domain_field(uow, program):
    with pytest.raises(DomainError) as refused:
        await orders.record_order(uow, program, OrderInput("o", "nobody", "EUR", (OrderLineInput("S", 1, "1"),)))

    assert (refused.value.code, refused.value.field) == (ErrorCode.CUSTOMER_NOT_FOUND, ["customer_external_id"])
    assert uow.store.orders == {}


async def test_an_adjustment_is_an_entry_and_an_audited_event(uow, program):
    result = await customers.adjust_points(uow, "cust-1", 15, "Goodwill", "api-key:support")

    assert result.balance == result.customer.balance == Balance(15, 0, 0)
    [(owner, entry, links)] = uow.store.entries
    assert (owner, entry.kind.value, entry.points, links["source"]) == ("cust-1", "adjust", 15, "api-key:support")
    audit = {"points": 15, "reason": "Goodwill", "by": "api-key:support"}
    assert uow.store.outbox[-1] == ("points.adjusted", "cust-1", audit)


async def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(uow, program):
    with pytest.raises(DomainError) as refused:
        await customers.adjust_points(uow, "cust-1", -1, "Oops", "api-key:support")

    assert refused.value.code is ErrorCode.INSUFFICIENT_POINTS
    assert uow.store.entries == []
    assert [t for t, _, _ in uow.store.outbox] == ["customer.enrolled"]


async def test_enrolling_an_enrolled_customer_again_is_refused(uow, program):
    with pytest.raises(DomainError) as refused:
        await customers.enroll_customer(uow, program, EnrollmentInput("cust-1", "other@example.com"))

    assert (refused.value.code, refused.value.field) == (ErrorCode.ALREADY_EXISTS, ["external_id"])


async def test_an_adjustment_retried_with_its_key_writes_once_and_answers_the_first_balance(uow, program):
    first = await customers.adjust_points(uow, "cust-1", 15, "Goodwill", "api-key:support", "key-1")
    await customers.adjust_points(uow, "cust-1", 5, "Other", "api-key:support")
    again = await customers.adjust_points(uow, "cust-1", 15, "Goodwill", "api-key:support", "key-1")

    assert (first.replayed, again.replayed) == (False, True)
    assert again.balance == first.balance == Balance(15, 0, 0)
    assert uow.store.customers["cust-1"].balance == Balance(20, 0, 0)
    assert [entry.points for _, entry, _ in uow.store.entries] == [15, 5]


async def test_an_idempotency_key_reused_for_another_adjustment_is_refused(uow, program):
    await customers.adjust_points(uow, "cust-1", 15, "Goodwill", "api-key:support", "key-1")

    with pytest.raises(DomainError) as refused:
        await customers.adjust_points(uow, "cust-1", 16, "Goodwill", "api-key:support", "key-1")

    assert (refused.value.code, refused.value.field) == (ErrorCode.IDEMPOTENCY_CONFLICT, ["idempotency_key"])
