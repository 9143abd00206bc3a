"""evaluateCart tells the whole story: line tags and the shipping country reach the rules
(so the demo's tag and country rules fire), a guest gets a free-shipping answer, and a dry
run honours limits and budgets exactly as recording would."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from persistence import models
from tests.conftest import REPO_ROOT, TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.graphql_client import RECORD_ORDER, enroll, gql

DEMO_RULES_DIR = REPO_ROOT / "rules" / "demo"

EVALUATE_CART = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) {
    pointsToEarn
    freeShipping { eligible remaining { amount currency } threshold { amount currency } ruleId }
    suggestions { sku ruleId learned }
    appliedRules { ruleId points }
    trace { ruleId applied reason }
    errors { field code message }
  }
}"""


@pytest.fixture
async def demo_server(server: Server) -> AsyncIterator[Server]:
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(DEMO_RULES_DIR))) as running:
        yield running


def line(sku: str, price: str, *tags: str, category: str | None = None) -> dict:
    return {"sku": sku, "quantity": 1, "unitPrice": price, "category": category, "tags": list(tags)}


async def evaluate(client, *lines: dict, **extra) -> dict:
    result = await gql(client, EVALUATE_CART, input={"currency": "EUR", "lines": list(lines), **extra})
    return result["evaluateCart"]


async def test_the_demos_tag_and_country_rules_fire_for_a_guest_cart(demo_server):
    async with demo_server.client() as admin:
        plain = await evaluate(admin, line("LAMP-1", "30.00"))
        france = await evaluate(admin, line("LAMP-1", "30.00"), country="fr")
        bulky = await evaluate(admin, line("SOFA-1", "30.00", "furniture"))
        bottles = await evaluate(admin, line("BOTTLE-3", "9.00", "feeding", "glass"))

    # A guest ships like a new member: the entry tier's threshold (there was no answer before).
    assert plain["freeShipping"] == {
        "eligible": False,
        "remaining": {"amount": "30.00", "currency": "EUR"},
        "threshold": {"amount": "60.00", "currency": "EUR"},
        "ruleId": "tier:Bronze",
    }
    assert france["freeShipping"] == {
        "eligible": False,
        "remaining": {"amount": "5.00", "currency": "EUR"},
        "threshold": {"amount": "35.00", "currency": "EUR"},
        "ruleId": "free-shipping-fr",
    }
    assert bulky["freeShipping"]["eligible"] is True
    assert bulky["freeShipping"]["ruleId"] == "free-shipping-bulky"
    assert [(s["sku"], s["ruleId"]) for s in bottles["suggestions"]] == [("BOTTLE-BRUSH", "bottles-brush")]


async def test_an_order_keeps_its_tags_and_country_in_what_a_replay_must_repeat(demo_server):
    customer, order_id = unique("cust"), unique("order")
    request = {
        "externalId": order_id,
        "customerExternalId": customer,
        "currency": "EUR",
        "country": "FR",
        "lines": [line("SOFA-1", "30.00", "furniture")],
    }
    async with demo_server.client() as admin:
        await enroll(admin, customer)
        first = (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]
        replay = (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]
        other = (await gql(admin, RECORD_ORDER, input={**request, "country": "DE"}))["recordOrder"]
    assert first["errors"] == [] and replay["replayed"] is True
    assert [e["code"] for e in other["errors"]] == ["IDEMPOTENCY_CONFLICT"]


async def test_a_country_that_is_not_iso_3166_is_refused_with_the_other_problems(demo_server):
    async with demo_server.client() as admin:
        result = await evaluate(admin, line("LAMP-1", "30.00", ""), country="XX")
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        (["lines", "0", "tags", "0"], "REQUIRED"),
        (["country"], "INVALID_COUNTRY"),
    ]


BUDGET_RULE = """
rules:
  - id: {rule_id}
    description: Coupon {coupon} gives 30 points from a budget of 50
    budget: {{points: 50}}
    when: {{order: {{coupon: {coupon}}}}}
    then: {{points: {{fixed: 30}}}}
"""


@pytest.fixture
async def budget(server: Server, tmp_path: Path) -> AsyncIterator[tuple[Server, str, str]]:
    """A server whose rules add a budgeted rule no other test uses: (server, rule id, coupon)."""
    tag = uuid.uuid4().hex[:10]
    rule_id, coupon = f"budget-{tag}", f"B{tag.upper()}"
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "budget.yaml").write_text(BUDGET_RULE.format(rule_id=rule_id, coupon=coupon))
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running, rule_id, coupon


async def preview_then_record(admin, customer: str, coupon: str) -> tuple[dict, dict]:
    lines = [{"sku": "SKU-1", "quantity": 1, "unitPrice": "10.00"}]
    preview = await evaluate(admin, *lines, customerExternalId=customer, couponCodes=[coupon])
    request = {
        "externalId": unique("order"),
        "customerExternalId": customer,
        "currency": "EUR",
        "lines": lines,
        "couponCodes": [coupon],
    }
    recorded = (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]
    return preview, recorded


async def test_a_dry_run_honours_a_per_customer_limit_as_recording_would(server):
    customer = unique("cust")
    async with server.client() as admin:
        await enroll(admin, customer)
        first_preview, first = await preview_then_record(admin, customer, "ONCE")
        second_preview, second = await preview_then_record(admin, customer, "ONCE")
    assert (first_preview["pointsToEarn"], first["pointsEarned"]) == (50, 50)
    # Before, the preview still showed the 40 points the limit no longer gives.
    assert (second_preview["pointsToEarn"], second["pointsEarned"]) == (10, 10)
    trace = {t["ruleId"]: t for t in second_preview["trace"]}
    assert trace["once-bonus"]["applied"] is False
    assert trace["once-bonus"]["reason"].startswith("limit reached")


async def test_a_dry_run_honours_a_budget_as_recording_would_and_writes_nothing(budget):
    running, rule_id, coupon = budget
    one, two = unique("cust"), unique("cust")
    async with running.client() as admin:
        await enroll(admin, one)
        await enroll(admin, two)
        guest_first = await evaluate(admin, {"sku": "SKU-1", "quantity": 1, "unitPrice": "10.00"}, couponCodes=[coupon])
        assert not await models.RuleBudget.filter(rule_id=rule_id).exists()  # a preview writes nothing
        results = [await preview_then_record(admin, customer, coupon) for customer in (one, two, one)]
        guest_last = await evaluate(admin, {"sku": "SKU-1", "quantity": 1, "unitPrice": "10.00"}, couponCodes=[coupon])

    # 30 of 50, then the 20 left, then nothing: each preview says what its recording did.
    assert [(p["pointsToEarn"], r["pointsEarned"]) for p, r in results] == [(40, 40), (30, 30), (10, 10)]
    assert guest_first["pointsToEarn"] == 40 and guest_last["pointsToEarn"] == 10
    assert (await models.RuleBudget.get(rule_id=rule_id)).points_awarded == 50
