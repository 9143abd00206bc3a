"""Partners receive reward events over graphql-transport-ws, and by polling."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from app.clock import utcnow
from persistence import models
from persistence import repositories as repo
from tests.conftest import BOOTSTRAP_KEY, Server, unique
from tests.graphql_client import ADJUST, RECORD_ORDER, enroll, gql, order_input
from tests.ws_client import SubscriptionError, connected, subscribe, subscribed

EVENTS_PAGE = """
query($first: Int, $after: String, $types: [String!]) {
  rewardEvents(first: $first, after: $after, types: $types) {
    edges { cursor node { id type customerExternalId sequence payload } }
    pageInfo { hasNextPage endCursor }
  }
}"""

CREATE_KEY = """
mutation($scopes: [String!]!) { createApiKey(name: "partner", scopes: $scopes) { key errors { code } } }
"""


async def adjust(admin, customer: str, points: int) -> None:
    data = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": points, "reason": "test"})
    assert data["adjustPoints"]["errors"] == []


async def test_a_subscriber_gets_each_event_of_a_customer_in_order_with_its_sequence(server: Server, admin):
    customer = unique("sub")
    async with subscribed(server.url, BOOTSTRAP_KEY, types=["customer.enrolled", "points.adjusted"]) as events:
        await asyncio.sleep(0.1)  # the subscription is live once the server has read it
        await enroll(admin, customer)
        await adjust(admin, customer, 10)
        await adjust(admin, customer, 5)
        received = [e for e in await events.take(3) if e["customerExternalId"] == customer]

    assert [(e["type"], e["sequence"]) for e in received] == [
        ("customer.enrolled", 1),
        ("points.adjusted", 2),
        ("points.adjusted", 3),
    ]
    assert received[2]["payload"]["balanceAfter"] == {"available": 15, "pending": 0, "lifetimeEarned": 0}
    assert received[0]["rulesVersion"]
    assert int(received[0]["id"]) < int(received[1]["id"]) < int(received[2]["id"])


async def test_a_subscriber_that_reconnects_with_after_gets_exactly_what_it_missed(server: Server, admin):
    customer = unique("resume")
    await enroll(admin, customer)
    async with subscribed(server.url, BOOTSTRAP_KEY, types=["points.adjusted"]) as events:
        await asyncio.sleep(0.1)
        await adjust(admin, customer, 1)
        first = await events.next()
    assert first["payload"]["points"] == 1

    for points in (2, 3, 4):  # while disconnected
        await adjust(admin, customer, points)

    async with subscribed(server.url, BOOTSTRAP_KEY, types=["points.adjusted"], after=first["id"]) as events:
        missed = await events.take(3)
        await adjust(admin, customer, 5)
        live = await events.next()
        assert await events.nothing_within(0.5)

    assert [e["payload"]["points"] for e in missed] == [2, 3, 4]
    assert live["payload"]["points"] == 5
    ids = [int(e["id"]) for e in [first, *missed, live]]
    assert ids == sorted(set(ids))


async def test_an_order_that_earns_tells_subscribers_what_it_earned(server: Server, admin):
    customer = unique("earn")
    await enroll(admin, customer)
    async with subscribed(server.url, BOOTSTRAP_KEY, types=["points.earned"]) as events:
        await asyncio.sleep(0.1)
        order = order_input(unique("o"), customer, ("SKU-1", 1, "100.00"))
        data = await gql(admin, RECORD_ORDER, input=order)
        earned = await events.next()

    assert earned["customerExternalId"] == customer
    assert earned["payload"]["points"] == data["recordOrder"]["pointsEarned"] > 0
    assert earned["payload"]["orderExternalId"] == order["externalId"]
    assert earned["payload"]["balanceAfter"]["lifetimeEarned"] == earned["payload"]["points"]
    assert earned["rulesVersion"] == data["recordOrder"]["order"]["rulesVersion"]


async def test_a_change_that_is_refused_produces_no_event(server: Server, admin):
    customer = unique("refused")
    await enroll(admin, customer)
    async with subscribed(server.url, BOOTSTRAP_KEY, types=["points.adjusted"]) as events:
        await asyncio.sleep(0.1)
        data = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": -5, "reason": "overdraw"})
        assert data["adjustPoints"]["errors"][0]["code"] == "INSUFFICIENT_POINTS"
        await adjust(admin, customer, 7)
        received = await events.next()
    assert received["payload"]["points"] == 7


async def test_subscribing_needs_an_api_key_with_events_read(server: Server):
    with pytest.raises(websockets.exceptions.ConnectionClosedError) as refused:
        async with connected(server.url, "lk_not_a_key"):
            pass
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4403

    async with connected(server.url, None) as ws:
        events = await subscribe(ws)
        with pytest.raises(SubscriptionError) as denied:
            await events.next()
    assert "events:read" in str(denied.value.errors)


async def test_an_unknown_event_type_or_a_bad_cursor_is_an_error_naming_it(server: Server):
    async with connected(server.url, BOOTSTRAP_KEY) as ws:
        events = await subscribe(ws, types=["points.earnd"])
        with pytest.raises(SubscriptionError) as bad_type:
            await events.next()
        events = await subscribe(ws, "2", after="not-an-id")
        with pytest.raises(SubscriptionError) as bad_after:
            await events.next()
    assert "points.earnd" in str(bad_type.value.errors)
    assert "not-an-id" in str(bad_after.value.errors)


async def test_partners_that_poll_page_through_the_same_events(server: Server, admin):
    customer = unique("poll")
    await enroll(admin, customer)
    for points in (1, 2, 3):
        await adjust(admin, customer, points)
    await asyncio.sleep(0.2)

    seen: list[dict] = []
    after = None
    while True:
        data = await gql(admin, EVENTS_PAGE, first=2, after=after, types=["points.adjusted"])
        page = data["rewardEvents"]
        seen += [edge["node"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break

    mine = [e for e in seen if e["customerExternalId"] == customer]
    assert [e["payload"]["points"] for e in mine] == [1, 2, 3]
    assert [e["sequence"] for e in mine] == [2, 3, 4]


async def test_concurrent_changes_to_one_customer_number_its_events_without_gap_or_repeat(server: Server, admin):
    customer = unique("seq")
    await enroll(admin, customer)
    orders = [order_input(unique("o"), customer, ("SKU-1", 1, "20.00")) for _ in range(8)]
    await asyncio.gather(
        *(gql(admin, RECORD_ORDER, input=order) for order in orders),
        *(adjust(admin, customer, 1) for _ in range(8)),
    )

    rows = await models.RewardEvent.filter(customer_external_id=customer).order_by("id")
    sequences = [row.customer_sequence for row in rows]
    assert sorted(sequences) == list(range(1, len(rows) + 1))
    assert len(rows) >= 1 + 8 + 8  # enrolment, adjustments, earnings (and tier changes)


async def test_a_rolled_back_change_leaves_no_event_and_no_hole_in_the_sequence(server: Server, admin):
    customer = unique("rollback")
    await enroll(admin, customer)
    async with subscribed(server.url, BOOTSTRAP_KEY, types=["points.adjusted"]) as events:
        await asyncio.sleep(0.1)
        with pytest.raises(RuntimeError):
            async with repo.transaction():
                await repo.add_events([("points.adjusted", customer, {"points": 99})], utcnow())
                raise RuntimeError("the change failed after writing its event")
        await adjust(admin, customer, 3)
        received = await events.next()

    assert received["payload"]["points"] == 3
    assert received["sequence"] == 2
    assert [
        row.payload["points"]
        for row in await models.RewardEvent.filter(customer_external_id=customer, type="points.adjusted")
    ] == [3]
