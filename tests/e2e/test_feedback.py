"""Feedback: a 0-10 score from the customer (token) or the store on their behalf (API key),
once per order, rewarded by feedback.submitted rules."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from persistence import models
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.graphql_client import RECORD_ORDER, TOKEN, enroll, gql, gql_raw, order_input

FEEDBACK_RULES = """
rules:
  - id: order-feedback
    on: feedback.submitted
    when: {event: {for_order: true}}
    then: {points: {fixed: 20}}
"""

SUBMIT = """
mutation($input: SubmitFeedbackInput!) {
  submitFeedback(input: $input) {
    feedback { score comment orderExternalId }
    pointsEarned
    errors { field code message }
  }
}"""


@pytest.fixture
async def feedback_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "feedback.yaml").write_text(FEEDBACK_RULES)
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


async def customer_with_order(server: Server) -> tuple[str, str, str]:
    """(customer, order, the customer's token)."""
    customer, order = unique("cust"), unique("order")
    async with server.client() as admin:
        await enroll(admin, customer)
        await gql(admin, RECORD_ORDER, input=order_input(order, customer, ("SKU-1", 1, "10.00")))
        token = (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]
    return customer, order, token


async def submit(client, **request) -> dict:
    return (await gql(client, SUBMIT, input=request))["submitFeedback"]


async def test_a_customer_rates_an_order_once_and_the_rules_reward_it(feedback_server):
    customer, order, token = await customer_with_order(feedback_server)
    async with feedback_server.client(token) as storefront:
        first = await submit(storefront, score=9, comment=" Quick delivery ", orderExternalId=order)
        again = await submit(storefront, score=3, orderExternalId=order)

    assert first == {
        "feedback": {"score": 9, "comment": "Quick delivery", "orderExternalId": order},
        "pointsEarned": 20,
        "errors": [],
    }
    assert again["feedback"] is None
    assert again["errors"] == [
        {
            "field": ["orderExternalId"],
            "code": "FEEDBACK_ALREADY_SUBMITTED",
            "message": f"Feedback on order '{order}' was already submitted; an order takes it once.",
        }
    ]
    assert [f.score for f in await models.Feedback.filter(customer__external_id=customer)] == [9]


async def test_feedback_without_an_order_may_be_given_again_and_earns_by_the_rules(feedback_server):
    customer, _, token = await customer_with_order(feedback_server)
    async with feedback_server.client(token) as storefront:
        results = [await submit(storefront, score=score) for score in (10, 7)]
    assert [(r["feedback"]["score"], r["pointsEarned"], r["errors"]) for r in results] == [(10, 0, []), (7, 0, [])]


async def test_an_api_key_submits_on_the_customers_behalf(feedback_server):
    customer, order, _ = await customer_with_order(feedback_server)
    async with feedback_server.client() as admin:
        named = await submit(admin, score=6, orderExternalId=order, customerExternalId=customer)
        unnamed = await submit(admin, score=6)
    assert named["errors"] == [] and named["pointsEarned"] == 20
    assert [(e["field"], e["code"]) for e in unnamed["errors"]] == [(["customerExternalId"], "REQUIRED")]


async def test_two_submissions_for_one_order_at_once_one_wins(feedback_server):
    customer, order, token = await customer_with_order(feedback_server)
    async with feedback_server.client(token) as storefront:
        results = await asyncio.gather(*(submit(storefront, score=8, orderExternalId=order) for _ in range(4)))
    assert sorted(tuple(e["code"] for e in r["errors"]) for r in results) == [
        (),
        ("FEEDBACK_ALREADY_SUBMITTED",),
        ("FEEDBACK_ALREADY_SUBMITTED",),
        ("FEEDBACK_ALREADY_SUBMITTED",),
    ]
    assert await models.Feedback.filter(customer__external_id=customer).count() == 1
    assert await models.EngagementEvent.filter(customer__external_id=customer, type="feedback.submitted").count() == 1


async def test_bad_feedback_is_refused_with_every_problem_and_writes_nothing(feedback_server):
    customer, _, token = await customer_with_order(feedback_server)
    _, someone_elses_order, _ = await customer_with_order(feedback_server)
    async with feedback_server.client(token) as storefront:
        bad = await submit(storefront, score=11, comment="x" * 2001)
        not_mine = await submit(storefront, score=5, orderExternalId=someone_elses_order)
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [(["score"], "INVALID"), (["comment"], "INVALID")]
    assert [(e["field"], e["code"]) for e in not_mine["errors"]] == [(["orderExternalId"], "ORDER_NOT_FOUND")]
    assert await models.Feedback.filter(customer__external_id=customer).count() == 0


async def test_a_customer_token_cannot_submit_for_another_customer(feedback_server):
    _, _, token = await customer_with_order(feedback_server)
    other, _, _ = await customer_with_order(feedback_server)
    async with feedback_server.client(token) as storefront:
        response = await gql_raw(storefront, SUBMIT, input={"score": 5, "customerExternalId": other})
    body = response.json()
    assert body["data"] is None
    assert "customer's own token" in body["errors"][0]["message"]
    assert await models.Feedback.filter(customer__external_id=other).count() == 0
