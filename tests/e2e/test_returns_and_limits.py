"""Returns take back what the returned part earned; limited rules hold under load and
give their uses back when an order comes back whole."""

from __future__ import annotations

import asyncio

from app import reads
from tests.conftest import unique
from tests.graphql_client import RECORD_ORDER, RECORD_RETURN, enroll, gql, order_input


async def _order(admin, customer: str, *lines, **extra) -> tuple[str, dict]:
    order = unique("order")
    payload = (await gql(admin, RECORD_ORDER, input=order_input(order, customer, *lines, **extra)))["recordOrder"]
    assert payload["errors"] == []
    return order, payload


async def _return(admin, order: str, *lines: tuple[str, int], external_id: str | None = None) -> dict:
    data = await gql(
        admin,
        RECORD_RETURN,
        input={
            "externalId": external_id or unique("ret"),
            "orderExternalId": order,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        },
    )
    return data["recordReturn"]


async def test_a_full_return_takes_back_every_point_the_order_earned(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order, _ = await _order(admin, customer, ("A", 2, "30.00"), ("B", 1, "40.00"))

    payload = await _return(admin, order, ("A", 2), ("B", 1))

    assert payload["errors"] == []
    assert payload["pointsReversed"] == 100
    assert payload["return"]["returnedAmount"] == {"amount": "100.00", "currency": "EUR"}
    balance = await reads.ledger_sums(uow, customer)
    assert (balance.available, balance.lifetime_earned) == (0, 0)
    stored = await reads.find_customer(uow, customer)
    assert stored.balance == balance
    assert stored.lifetime_spend == 0


async def test_partial_returns_take_back_their_share_and_add_up_exactly(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order, _ = await _order(admin, customer, ("A", 3, "33.33"))  # 99.99 -> 99 points

    first = await _return(admin, order, ("A", 1))
    second = await _return(admin, order, ("A", 1))
    third = await _return(admin, order, ("A", 1))

    assert [p["pointsReversed"] for p in (first, second, third)] == [33, 33, 33]
    assert (await reads.ledger_sums(uow, customer)).available == 0


async def test_a_replayed_return_reverses_once(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order, _ = await _order(admin, customer, ("A", 2, "10.00"))
    ret = unique("ret")

    results = await asyncio.gather(*(_return(admin, order, ("A", 1), external_id=ret) for _ in range(8)))

    assert all(r["errors"] == [] and r["pointsReversed"] == 10 for r in results)
    assert sum(not r["replayed"] for r in results) == 1
    assert (await reads.ledger_sums(uow, customer)).available == 10


async def test_returning_more_than_was_ordered_is_refused_and_writes_nothing(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order, _ = await _order(admin, customer, ("A", 1, "10.00"))
    await _return(admin, order, ("A", 1))

    payload = await _return(admin, order, ("A", 1))

    assert [e["code"] for e in payload["errors"]] == ["RETURN_EXCEEDS_ORDER"]
    assert (await reads.ledger_sums(uow, customer)).available == 0


async def test_a_return_for_an_unknown_order_or_sku_is_refused(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order, _ = await _order(admin, customer, ("A", 1, "10.00"))
    assert [e["code"] for e in (await _return(admin, "no-such-order", ("A", 1)))["errors"]] == ["ORDER_NOT_FOUND"]
    assert [e["code"] for e in (await _return(admin, order, ("Z", 1)))["errors"]] == ["INVALID"]
    assert [e["code"] for e in (await _return(admin, order, ("A", 0)))["errors"]] == ["INVALID_QUANTITY"]


async def test_a_per_customer_limit_holds_and_a_full_return_gives_the_use_back(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    first, paid = await _order(admin, customer, ("A", 1, "10.00"), couponCodes=["ONCE"])
    _, refused = await _order(admin, customer, ("A", 1, "10.00"), couponCodes=["ONCE"])
    assert {r["ruleId"] for r in paid["appliedRules"]} == {"base-earn", "once-bonus"}
    assert {r["ruleId"] for r in refused["appliedRules"]} == {"base-earn"}

    await _return(admin, first, ("A", 1))
    _, again = await _order(admin, customer, ("A", 1, "10.00"), couponCodes=["ONCE"])

    assert {r["ruleId"] for r in again["appliedRules"]} == {"base-earn", "once-bonus"}


async def test_a_budget_is_never_overspent_by_concurrent_orders(admin):
    customers = [unique("cust") for _ in range(6)]
    for customer in customers:
        await enroll(admin, customer)

    results = await asyncio.gather(
        *(_order(admin, customer, ("A", 1, "1.00"), couponCodes=["CAMPAIGN"]) for customer in customers)
    )

    campaign = [r["points"] for _, payload in results for r in payload["appliedRules"] if r["ruleId"] == "campaign"]
    assert sum(campaign) <= 60


async def test_an_exclusive_rule_held_back_by_its_limit_lets_the_next_one_apply_only_within_its_own(admin):
    customer = unique("cust")
    await enroll(admin, customer)

    gifts = []
    for _ in range(3):
        _, payload = await _order(admin, customer, ("A", 1, "1.00"), couponCodes=["GIFT"])
        gifts.append({r["ruleId"]: r["points"] for r in payload["appliedRules"] if r["ruleId"].startswith("gift")})

    assert gifts == [{"gift-big": 100}, {"gift-small": 10}, {}]
