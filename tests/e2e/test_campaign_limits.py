"""Campaign limits, program caps, limits per an event attribute and budgets in money
(issue 13), driven over GraphQL: recorded, previewed alike, held under concurrency, given
back by a full return."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from persistence import models
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.test_two_workers import serving_two_workers
from tests.graphql_client import RECORD_ORDER, RECORD_RETURN, enroll, gql, order_input

pytestmark = pytest.mark.usefixtures("models_for_checks")

CAMPAIGN_RULES = """
campaigns:
  - id: spring-{tag}
    limit: {{per_customer: 1}}
  - id: money-{tag}
    budget: {{amount: "10.00"}}
rules:
  - id: spring-a-{tag}
    campaign: spring-{tag}
    when: {{order: {{coupon: S{TAG}}}}}
    then: {{points: {{fixed: 11}}}}
  - id: spring-b-{tag}
    campaign: spring-{tag}
    when: {{order: {{coupon: S{TAG}}}}}
    then: {{points: {{fixed: 12}}}}
  - id: first-five-{tag}
    limit: {{total: 5}}
    when: {{order: {{coupon: F{TAG}}}}}
    then: {{points: {{fixed: 7}}}}
  - id: money-off-{tag}
    campaign: money-{tag}
    when: {{order: {{coupon: M{TAG}}}}}
    then: {{discount: {{amount: 4}}}}
  - id: tote-{tag}
    campaign: money-{tag}
    when: {{order: {{coupon: T{TAG}}}}}
    then: {{free_item: {{sku: TOTE, value: 3.50}}}}
  - id: review-{tag}
    on: review.submitted
    limit: {{per_customer: 1, per: event.order_id}}
    then: {{points: {{fixed: 15}}}}
"""

EVALUATE_CART = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) {
    pointsToEarn discounts { ruleId amount { amount currency } } trace { ruleId applied reason }
    freeProducts { sku quantity ruleId value { amount currency } }
  }
}"""

RECORD_ORDER_FREE = """
mutation($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    pointsEarned replayed freeProducts { sku quantity ruleId value { amount currency } } errors { code }
  }
}"""

RECORD_EVENT = """
mutation($input: RecordEventInput!) {
  recordEvent(input: $input) { pointsEarned appliedRules { ruleId points } errors { code message } }
}"""


@dataclass(frozen=True)
class Campaigns:
    tag: str
    folder: Path

    def coupon(self, letter: str) -> str:
        return f"{letter}{self.tag.upper()}"

    def rule(self, name: str) -> str:
        return f"{name}-{self.tag}"


def campaign_folder(tmp_path: Path) -> Campaigns:
    """The test rules plus campaign rules whose ids and coupons no other test uses."""
    tag = uuid.uuid4().hex[:10]
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "campaigns.yaml").write_text(CAMPAIGN_RULES.format(tag=tag, TAG=tag.upper()))
    return Campaigns(tag, folder)


@pytest.fixture
async def campaigns(server: Server, tmp_path: Path) -> AsyncIterator[tuple[Server, Campaigns]]:
    found = campaign_folder(tmp_path)
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(found.folder))) as running:
        yield running, found


async def _order(admin, customer: str, coupon: str, price: str = "20.00") -> tuple[str, dict]:
    order = unique("order")
    request = order_input(order, customer, ("A", 1, price), couponCodes=[coupon])
    payload = (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]
    assert payload["errors"] == []
    return order, payload


def _points(payload: dict, rule_id: str) -> int:
    return sum(r["points"] for r in payload["appliedRules"] if r["ruleId"] == rule_id)


async def _preview(admin, customer: str | None, coupon: str) -> dict:
    request = {"currency": "EUR", "lines": [{"sku": "A", "quantity": 1, "unitPrice": "20.00"}], "couponCodes": [coupon]}
    if customer:
        request["customerExternalId"] = customer
    return (await gql(admin, EVALUATE_CART, input=request))["evaluateCart"]


async def test_the_rules_of_one_campaign_share_its_limit_and_a_full_return_gives_the_use_back(campaigns):
    running, found = campaigns
    customer = unique("cust")
    async with running.client() as admin:
        await enroll(admin, customer)
        first, paid = await _order(admin, customer, found.coupon("S"))
        preview = await _preview(admin, customer, found.coupon("S"))
        _, refused = await _order(admin, customer, found.coupon("S"))
        await gql(
            admin,
            RECORD_RETURN,
            input={"externalId": unique("ret"), "orderExternalId": first, "lines": [{"sku": "A", "quantity": 1}]},
        )
        _, again = await _order(admin, customer, found.coupon("S"))

    # Both rules match; the campaign's one use per customer lets the first alone apply.
    assert (_points(paid, found.rule("spring-a")), _points(paid, found.rule("spring-b"))) == (11, 0)
    assert (_points(refused, found.rule("spring-a")), _points(refused, found.rule("spring-b"))) == (0, 0)
    reasons = {t["ruleId"]: t["reason"] for t in preview["trace"]}
    assert reasons[found.rule("spring-a")] == f"limit reached: used 1 of 1 of campaign 'spring-{found.tag}'"
    assert _points(again, found.rule("spring-a")) == 11


async def test_a_limit_per_event_attribute_rewards_each_reviewed_order_once(campaigns):
    running, found = campaigns
    customer = unique("cust")

    def review(order_id: str) -> dict:
        attributes = {"order_id": order_id}
        return {
            "externalId": unique("ev"),
            "customerExternalId": customer,
            "type": "review.submitted",
            "attributes": attributes,
        }

    async with running.client() as admin:
        await enroll(admin, customer)
        earned = [(await gql(admin, RECORD_EVENT, input=review(o)))["recordEvent"] for o in ("o-1", "o-1", "o-2")]
        missing = (await gql(admin, RECORD_EVENT, input={**review("x"), "attributes": {}}))["recordEvent"]

    assert [e["pointsEarned"] for e in earned] == [15, 0, 15]
    assert missing["pointsEarned"] == 0


async def test_a_budget_in_money_cuts_then_stops_the_discount_and_a_preview_says_so(campaigns):
    running, found = campaigns
    one, two = unique("cust"), unique("cust")
    rule_id, key = found.rule("money-off"), f"campaign:money-{found.tag}"
    async with running.client() as admin:
        await enroll(admin, one)
        await enroll(admin, two)
        guest = await _preview(admin, None, found.coupon("M"))
        assert not await models.RuleBudget.filter(rule_id=key).exists()  # a preview writes nothing
        previews, orders = [], []
        for customer in (one, two, one, two):
            previews.append(await _preview(admin, customer, found.coupon("M")))
            orders.append(await _order(admin, customer, found.coupon("M")))
        # The last order comes back whole: its discount goes back into the budget.
        await gql(
            admin,
            RECORD_RETURN,
            input={
                "externalId": unique("ret"),
                "orderExternalId": orders[2][0],
                "lines": [{"sku": "A", "quantity": 1}],
            },
        )
        after_return = await _preview(admin, one, found.coupon("M"))

    def off(preview: dict) -> str | None:
        return next((d["amount"]["amount"] for d in preview["discounts"] if d["ruleId"] == rule_id), None)

    assert off(guest) == "4.00"
    assert [off(p) for p in previews] == ["4.00", "4.00", "2.00", None]
    trace = {t["ruleId"]: t["reason"] for t in previews[2]["trace"]}
    assert trace[rule_id] == f"2.00 off (capped: 2.00 left in the budget of campaign 'money-{found.tag}')"
    trace = {t["ruleId"]: t["reason"] for t in previews[3]["trace"]}
    assert trace[rule_id] == f"budget exhausted: 10.00 already given in discounts of campaign 'money-{found.tag}'"
    assert off(after_return) == "2.00"
    row = await models.RuleBudget.get(rule_id=key)
    assert (row.amount_awarded, row.uses) == (Decimal("8.00"), 2)


async def test_forty_concurrent_orders_never_pass_a_program_cap_of_five_nor_a_budget_in_money(campaigns):
    running, found = campaigns
    customers = [unique("cust") for _ in range(40)]
    async with running.client() as admin:
        for customer in customers:
            await enroll(admin, customer)
        capped = await asyncio.gather(*(_order(admin, c, found.coupon("F")) for c in customers))
        await asyncio.gather(*(_order(admin, c, found.coupon("M")) for c in customers[:20]))

    assert sum(_points(payload, found.rule("first-five")) == 7 for _, payload in capped) == 5
    assert (await models.RuleBudget.get(rule_id=found.rule("first-five"))).uses == 5
    budget = await models.RuleBudget.get(rule_id=f"campaign:money-{found.tag}")
    given = await models.RuleUse.filter(rule_id=f"campaign:money-{found.tag}").values_list("amount", flat=True)
    assert budget.amount_awarded == sum(given, Decimal(0)) == Decimal("10.00")


async def test_two_workers_hold_a_program_cap_of_five_against_forty_concurrent_orders(database_url, tmp_path):
    found = campaign_folder(tmp_path)
    async with serving_two_workers(database_url, found.folder, tmp_path) as client:
        customers = [unique("cust") for _ in range(40)]
        for customer in customers:
            await enroll(client, customer)
        capped = await asyncio.gather(*(_order(client, c, found.coupon("F")) for c in customers))
        await asyncio.gather(*(_order(client, c, found.coupon("M")) for c in customers))

    assert sum(_points(payload, found.rule("first-five")) == 7 for _, payload in capped) == 5
    assert (await models.RuleBudget.get(rule_id=found.rule("first-five"))).uses == 5
    budget = await models.RuleBudget.get(rule_id=f"campaign:money-{found.tag}")
    assert budget.amount_awarded == Decimal("10.00")


async def test_a_free_item_is_previewed_recorded_with_the_order_and_its_value_given_back_by_a_return(campaigns):
    running, found = campaigns
    customer, rule_id = unique("cust"), found.rule("tote")
    tote = {"sku": "TOTE", "quantity": 1, "ruleId": rule_id, "value": {"amount": "3.50", "currency": "EUR"}}
    async with running.client() as admin:
        await enroll(admin, customer)
        preview = await _preview(admin, customer, found.coupon("T"))
        # The store adds the free line at price 0.
        lines = [("A", 1, "20.00"), ("TOTE", 1, "0.00")]
        request = order_input(unique("order"), customer, *lines, couponCodes=[found.coupon("T")])
        recorded = (await gql(admin, RECORD_ORDER_FREE, input=request))["recordOrder"]
        replayed = (await gql(admin, RECORD_ORDER_FREE, input=request))["recordOrder"]
        key = f"campaign:money-{found.tag}"
        spent = (await models.RuleBudget.get(rule_id=key)).amount_awarded
        await gql(
            admin,
            RECORD_RETURN,
            input={
                "externalId": unique("ret"),
                "orderExternalId": request["externalId"],
                "lines": [{"sku": "A", "quantity": 1}, {"sku": "TOTE", "quantity": 1}],
            },
        )
        returned = (await models.RuleBudget.get(rule_id=key)).amount_awarded

    assert preview["freeProducts"] == [tote]
    assert preview["discounts"] == []  # the line at price 0 is the discount: nothing to take off twice
    assert (recorded["errors"], recorded["freeProducts"], recorded["pointsEarned"]) == ([], [tote], 20)
    assert (replayed["replayed"], replayed["freeProducts"]) == (True, [tote])
    assert (spent, returned) == (Decimal("3.50"), Decimal("0"))
