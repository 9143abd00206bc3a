"""A store back end enrolls customers and records orders; the storefront reads points."""

from __future__ import annotations

import asyncio

from persistence import repositories as repo
from tests.conftest import unique
from tests.graphql_client import CUSTOMER, RECORD_ORDER, enroll, gql, order_input


async def test_an_order_earns_points_by_the_rules_and_the_ledger_says_which_rule(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order = unique("order")

    data = await gql(admin, RECORD_ORDER, input=order_input(order, customer, ("SKU-1", 2, "50.00")))

    payload = data["recordOrder"]
    assert payload["errors"] == []
    assert payload["pointsEarned"] == 100
    assert payload["replayed"] is False
    assert payload["order"]["subtotal"] == {"amount": "100.00", "currency": "EUR"}
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["points"] == {"available": 100, "pending": 0, "lifetimeEarned": 100}
    [edge] = seen["ledger"]["edges"]
    assert edge["node"]["kind"] == "EARN"
    assert edge["node"]["ruleId"] == "base-earn"
    assert edge["node"]["orderExternalId"] == order
    assert edge["node"]["rulesVersion"] == payload["order"]["rulesVersion"]


async def test_a_replayed_order_earns_once_and_returns_the_first_result(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = order_input(unique("order"), customer, ("SKU-1", 1, "30.00"))

    first = (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]
    second = (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]

    assert second["errors"] == []
    assert second["replayed"] is True
    assert second["pointsEarned"] == first["pointsEarned"] == 30
    assert second["order"] == first["order"]
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["points"]["available"] == 30
    assert len(seen["ledger"]["edges"]) == 1


async def test_the_same_order_recorded_at_once_earns_once(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    request = order_input(unique("order"), customer, ("SKU-1", 1, "42.00"))

    results = await asyncio.gather(*(gql(admin, RECORD_ORDER, input=request) for _ in range(10)))

    payloads = [r["recordOrder"] for r in results]
    assert all(p["errors"] == [] and p["pointsEarned"] == 42 for p in payloads)
    assert sum(not p["replayed"] for p in payloads) == 1
    assert (await repo.ledger_sums(customer)).available == 42


async def test_an_order_id_reused_with_other_content_is_refused(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order = unique("order")
    await gql(admin, RECORD_ORDER, input=order_input(order, customer, ("SKU-1", 1, "10.00")))

    data = await gql(admin, RECORD_ORDER, input=order_input(order, customer, ("SKU-1", 5, "10.00")))

    [error] = data["recordOrder"]["errors"]
    assert error["code"] == "IDEMPOTENCY_CONFLICT"
    assert error["field"] == ["externalId"]


async def test_a_tier_multiplier_earns_its_own_entry(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    # Enough lifetime points to reach Silver (threshold 500 in the test rules).
    await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("BIG", 1, "600.00")))

    data = await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, "100.00")))

    payload = data["recordOrder"]
    rules = {r["ruleId"]: r["points"] for r in payload["appliedRules"]}
    assert rules == {"base-earn": 100, "silver-multiplier": 50}
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["tier"]["name"] == "Silver"
    assert seen["points"]["available"] == 600 + 150
    assert seen["tierProgress"] == {"nextTier": {"name": "Gold"}, "remaining": 2000 - 750}


async def test_the_ledger_pages_newest_first(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    for amount in ("1.00", "2.00", "3.00"):
        await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, amount)))

    first = (await gql(admin, CUSTOMER, id=customer, first=2))["customer"]["ledger"]
    rest = (await gql(admin, CUSTOMER, id=customer, first=2, after=first["pageInfo"]["endCursor"]))["customer"][
        "ledger"
    ]

    assert [e["node"]["points"] for e in first["edges"]] == [3, 2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["points"] for e in rest["edges"]] == [1]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_balances_always_equal_the_sum_of_entries(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    await asyncio.gather(
        *(
            gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, f"{n}.00")))
            for n in range(1, 16)
        )
    )
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]["points"]
    sums = await repo.ledger_sums(customer)
    assert (seen["available"], seen["pending"], seen["lifetimeEarned"]) == (
        sums.available,
        sums.pending,
        sums.lifetime_earned,
    )
    assert sums.available == sum(range(1, 16))
