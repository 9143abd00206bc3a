"""Points are a GraphQL Int: nothing may take a customer past 2^31-1, or every later answer
about them (replays included) would be an error."""

from __future__ import annotations

from persistence import repositories as repo
from tests.conftest import unique
from tests.e2e.test_evaluate_cart import EVALUATE_EVENT, cart, evaluate
from tests.e2e.test_record_event import RECORD_EVENT, review
from tests.graphql_client import ADJUST, CUSTOMER, RECORD_ORDER, enroll, gql, order_input

MAX_POINTS = 2**31 - 1


async def credit(admin, customer: str, points: int) -> dict:
    request = {"customerExternalId": customer, "points": points, "reason": "test"}
    return (await gql(admin, ADJUST, input=request))["adjustPoints"]


async def test_an_order_earning_more_than_an_int_holds_is_refused_and_writes_nothing(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = order_input(unique("order"), customer, ("SKU-1", 1, "3000000150.00"))

    for _ in range(2):  # a retry is refused the same way, not answered as a replay
        payload = (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("POINTS_LIMIT", ["points"])]
        assert "2,147,483,647" in payload["errors"][0]["message"]

    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["points"] == {"available": 0, "pending": 0, "lifetimeEarned": 0}
    assert seen["ledger"]["edges"] == []
    assert await repo.find_order(request["externalId"]) is None


async def test_credits_stop_at_the_bound_and_the_customer_can_still_be_read(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    for _ in range(21):
        assert (await credit(admin, customer, 100_000_000))["errors"] == []

    refused = await credit(admin, customer, 100_000_000)

    assert [e["code"] for e in refused["errors"]] == ["POINTS_LIMIT"]
    assert (await credit(admin, customer, MAX_POINTS - 2_100_000_000))["errors"] == []
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["points"]["available"] == MAX_POINTS
    assert (await repo.ledger_sums(customer)).available == MAX_POINTS


async def test_at_the_bound_orders_events_and_their_previews_are_refused(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    for points in [100_000_000] * 21 + [MAX_POINTS - 2_100_000_000]:
        assert (await credit(admin, customer, points))["errors"] == []

    order = (await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("SKU-1", 1, "10.00"))))[
        "recordOrder"
    ]
    event = (await gql(admin, RECORD_EVENT, input=review(customer)))["recordEvent"]
    cart_preview = await evaluate(admin, cart(("SKU-1", 1, "10.00", None), customerExternalId=customer))
    preview = {"customerExternalId": customer, "type": "review.published", "attributes": {"rating": 5}}
    event_preview = (await gql(admin, EVALUATE_EVENT, input=preview))["evaluateEvent"]

    for payload in (order, event, cart_preview, event_preview):
        assert [e["code"] for e in payload["errors"]] == ["POINTS_LIMIT"], payload
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["points"] == {"available": MAX_POINTS, "pending": 0, "lifetimeEarned": 0}
    assert all(edge["node"]["kind"] == "ADJUST" for edge in seen["ledger"]["edges"])
    assert len(seen["ledger"]["edges"]) == 20  # the first page, all adjustments
