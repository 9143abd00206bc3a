"""A store back end records engagement events (reviews, follows...) that rules reward."""

from __future__ import annotations

import asyncio

from app.credentials import create_api_key
from persistence import repositories as repo
from tests.conftest import unique
from tests.graphql_client import CUSTOMER, TOKEN, enroll, gql, gql_raw

RECORD_EVENT = """
mutation($input: RecordEventInput!) {
  recordEvent(input: $input) {
    event { externalId customerExternalId type pointsEarned rulesVersion }
    pointsEarned replayed
    appliedRules { ruleId points reason }
    errors { field code message }
  }
}"""


def review(customer: str, rating: int = 5, **extra) -> dict:
    return {
        "externalId": unique("review"),
        "customerExternalId": customer,
        "type": "review.published",
        "attributes": {"rating": rating, "productSku": "CRIB-OAK"},
        **extra,
    }


async def record(client, request: dict) -> dict:
    return (await gql(client, RECORD_EVENT, input=request))["recordEvent"]


async def test_a_good_review_earns_points_by_the_review_rule(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = review(customer)

    payload = await record(admin, request)

    assert payload["errors"] == []
    assert payload["pointsEarned"] == 50
    assert payload["replayed"] is False
    assert payload["event"]["externalId"] == request["externalId"]
    assert payload["event"]["type"] == "review.published"
    assert payload["event"]["pointsEarned"] == 50
    assert [(r["ruleId"], r["points"]) for r in payload["appliedRules"]] == [("review-bonus", 50)]
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["points"] == {"available": 50, "pending": 0, "lifetimeEarned": 50}
    [edge] = seen["ledger"]["edges"]
    assert (edge["node"]["kind"], edge["node"]["ruleId"], edge["node"]["points"]) == ("EARN", "review-bonus", 50)
    assert edge["node"]["rulesVersion"] == payload["event"]["rulesVersion"]


async def test_an_event_no_rule_rewards_is_recorded_and_earns_nothing(admin):
    customer = unique("cust")
    await enroll(admin, customer)

    low = await record(admin, review(customer, rating=2))
    custom = await record(
        admin, {"externalId": unique("ev"), "customerExternalId": customer, "type": "custom.app_installed"}
    )

    assert low["errors"] == custom["errors"] == []
    assert low["pointsEarned"] == custom["pointsEarned"] == 0
    assert low["appliedRules"] == []
    assert (await repo.ledger_sums(customer)).available == 0


async def test_a_replayed_event_earns_once_and_returns_the_first_result(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = review(customer, occurredAt="2026-11-20T10:00:00+00:00")

    first = await record(admin, request)
    second = await record(admin, request)

    assert second["errors"] == []
    assert second["replayed"] is True
    assert second["pointsEarned"] == first["pointsEarned"] == 50
    assert second["event"] == first["event"]
    assert second["appliedRules"] == first["appliedRules"]
    assert (await repo.ledger_sums(customer)).available == 50


async def test_the_same_event_recorded_at_once_earns_once(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = review(customer)

    results = await asyncio.gather(*(record(admin, request) for _ in range(10)))

    assert all(p["errors"] == [] and p["pointsEarned"] == 50 for p in results)
    assert sum(not p["replayed"] for p in results) == 1
    sums = await repo.ledger_sums(customer)
    assert sums.available == 50
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]["points"]
    assert (seen["available"], seen["pending"], seen["lifetimeEarned"]) == (50, 0, 50)


async def test_an_event_id_reused_with_other_content_is_refused(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = review(customer)
    await record(admin, request)

    payload = await record(admin, {**request, "attributes": {"rating": 4}})

    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("IDEMPOTENCY_CONFLICT", ["externalId"])
    assert payload["event"] is None
    assert (await repo.ledger_sums(customer)).available == 50


async def test_bad_input_is_refused_field_by_field_and_nothing_is_written(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = {
        "externalId": "",
        "customerExternalId": "no spaces allowed",
        "type": "Review Published",
        "attributes": {f"a{n}": n for n in range(51)},
    }

    payload = await record(admin, request)

    assert {(tuple(e["field"]), e["code"]) for e in payload["errors"]} == {
        ("externalId",): "INVALID_ID",
        ("customerExternalId",): "INVALID_ID",
        ("type",): "INVALID",
        ("attributes",): "INVALID",
    }.items()
    assert payload["event"] is None


async def test_attributes_must_be_a_json_object(admin):
    customer = unique("cust")
    await enroll(admin, customer)

    payload = await record(admin, {**review(customer), "attributes": [1, 2, 3]})

    [error] = payload["errors"]
    assert (error["field"], error["code"]) == (["attributes"], "INVALID")
    assert (await repo.ledger_sums(customer)).available == 0


async def test_an_unknown_customer_is_refused(admin):
    payload = await record(admin, review(unique("nobody")))

    [error] = payload["errors"]
    assert (error["field"], error["code"]) == (["customerExternalId"], "CUSTOMER_NOT_FOUND")


async def test_a_key_with_orders_write_may_record_events(server, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    key = await create_api_key(server.uow, "events-writer", ["orders:write"])

    async with server.client(key) as back_end:
        payload = await record(back_end, review(customer))

    assert payload["errors"] == [] and payload["pointsEarned"] == 50


async def test_a_customer_token_cannot_record_events(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    token = (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]

    async with server.client(token) as storefront:
        body = (await gql_raw(storefront, RECORD_EVENT, input=review(customer))).json()

    assert body["data"] is None
    assert "orders:write" in body["errors"][0]["message"]
    assert (await repo.ledger_sums(customer)).available == 0


async def test_a_limited_event_rule_rewards_once_however_often_it_happens(admin):
    customer = unique("cust")
    await enroll(admin, customer)

    def follow() -> dict:
        return {"externalId": unique("follow"), "customerExternalId": customer, "type": "social.followed"}

    results = await asyncio.gather(*(record(admin, follow()) for _ in range(5)))

    assert sorted(r["pointsEarned"] for r in results) == [0, 0, 0, 0, 25]
    assert (await repo.ledger_sums(customer)).available == 25
