"""A retried mutation (after a timeout, say) answers exactly what the first call answered,
as Stripe's idempotency keys do: every field of the payload, compared one by one."""

from __future__ import annotations

from typing import Any

from app import reads
from tests.conftest import unique
from tests.graphql_client import RECORD_RETURN, enroll, gql, order_input

ORDER = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order {
      externalId customerExternalId placedAt pointsEarned rulesVersion
      subtotal { amount currency } shippingAmount { amount currency } spend { amount currency } exchangeRate
    }
    pointsEarned replayed
    appliedRules { ruleId points reason }
    errors { field code message }
  }
}"""

EVENT = """
mutation($input: RecordEventInput!) {
  recordEvent(input: $input) {
    event { externalId customerExternalId type occurredAt pointsEarned rulesVersion }
    pointsEarned replayed
    appliedRules { ruleId points reason }
    errors { field code message }
  }
}"""

ADJUST = """
mutation($input: AdjustPointsInput!) {
  adjustPoints(input: $input) {
    customer { externalId email tier { name } points { available pending lifetimeEarned } }
    points { available pending lifetimeEarned }
    replayed
    errors { field code message }
  }
}"""


def assert_same_answer(first: dict[str, Any], again: dict[str, Any]) -> None:
    assert first["errors"] == [] and first["replayed"] is False, first
    assert again["replayed"] is True, again
    for field in first.keys() - {"replayed"}:
        assert again[field] == first[field], field
    assert first.keys() == again.keys()


async def _call(admin, mutation: str, name: str, **input: Any) -> dict[str, Any]:
    return (await gql(admin, mutation, input=input))[name]


async def test_a_replayed_order_answers_what_the_first_answered_applied_rules_too(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = order_input(
        unique("order"),
        customer,
        ("A", 1, "12.5"),
        currency="USD",
        couponCodes=["ONCE"],
        shippingAmount="4.9",
        placedAt="2026-03-01T10:00:00.123456+02:00",
    )

    first = await _call(admin, ORDER, "recordOrder", **request)
    again = await _call(admin, ORDER, "recordOrder", **request)

    assert [r["ruleId"] for r in first["appliedRules"]] == ["once-bonus", "base-earn"]
    assert first["order"]["exchangeRate"] == "0.92"
    assert_same_answer(first, again)


async def test_a_replayed_return_answers_the_points_it_could_not_take_back(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order = unique("order")
    await _call(admin, ORDER, "recordOrder", **order_input(order, customer, ("A", 1, "30.00")))
    spent = await _call(admin, ADJUST, "adjustPoints", customerExternalId=customer, points=-20, reason="Spent")
    assert spent["errors"] == []
    request = {"externalId": unique("ret"), "orderExternalId": order, "lines": [{"sku": "A", "quantity": 1}]}

    first = await _call(admin, RECORD_RETURN, "recordReturn", **request)
    again = await _call(admin, RECORD_RETURN, "recordReturn", **request)

    assert (first["pointsReversed"], first["pointsUnrecovered"]) == (10, 20)
    assert_same_answer(first, again)


async def test_a_replayed_event_answers_what_the_first_answered(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = {
        "externalId": unique("review"),
        "customerExternalId": customer,
        "type": "review.published",
        "occurredAt": "2026-03-01T10:00:00-05:00",
        "attributes": {"rating": 5},
    }

    first = await _call(admin, EVENT, "recordEvent", **request)
    again = await _call(admin, EVENT, "recordEvent", **request)

    assert [r["ruleId"] for r in first["appliedRules"]] == ["review-bonus"]
    assert_same_answer(first, again)


async def test_a_retried_adjustment_answers_what_the_first_answered_and_writes_nothing(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = {"customerExternalId": customer, "points": 70, "reason": "Goodwill", "idempotencyKey": unique("key")}

    first = await _call(admin, ADJUST, "adjustPoints", **request)
    again = await _call(admin, ADJUST, "adjustPoints", **request)

    assert first["points"] == {"available": 70, "pending": 0, "lifetimeEarned": 0}
    assert_same_answer(first, again)
    assert (await reads.ledger_sums(uow, customer)).available == 70


async def test_a_retried_debit_is_answered_even_when_the_points_are_gone_since(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    await _call(admin, ADJUST, "adjustPoints", customerExternalId=customer, points=50, reason="Gift")
    debit = {"customerExternalId": customer, "points": -50, "reason": "Spent", "idempotencyKey": unique("key")}

    first = await _call(admin, ADJUST, "adjustPoints", **debit)
    again = await _call(admin, ADJUST, "adjustPoints", **debit)

    assert first["points"]["available"] == 0
    assert_same_answer(first, again)
    assert (await reads.ledger_sums(uow, customer)).available == 0


async def test_an_idempotency_key_reused_with_other_content_is_refused_and_writes_nothing(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    key = unique("key")
    request = {"customerExternalId": customer, "points": 5, "reason": "A", "idempotencyKey": key}
    await _call(admin, ADJUST, "adjustPoints", **request)

    other = await _call(admin, ADJUST, "adjustPoints", **{**request, "points": 6})

    assert [(e["code"], e["field"]) for e in other["errors"]] == [("IDEMPOTENCY_CONFLICT", ["idempotencyKey"])]
    assert (await reads.ledger_sums(uow, customer)).available == 5


async def test_adjustments_without_a_key_each_write_their_entry(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    for _ in range(2):
        payload = await _call(admin, ADJUST, "adjustPoints", customerExternalId=customer, points=5, reason="Same")
        assert payload["errors"] == [] and payload["replayed"] is False

    assert (await reads.ledger_sums(uow, customer)).available == 10


async def test_an_invalid_idempotency_key_is_refused(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)

    payload = await _call(
        admin, ADJUST, "adjustPoints", customerExternalId=customer, points=5, reason="A", idempotencyKey=" "
    )

    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_ID", ["idempotencyKey"])]
    assert (await reads.ledger_sums(uow, customer)).available == 0
