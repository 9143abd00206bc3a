"""Points before or after a coupon's discount (issue 10, a documented choice): by default
per_unit points count the subtotal before discounts; `program.points.earn_on: paid` counts
what the customer pays after them. The preview and the recording agree either way."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.graphql_client import RECORD_ORDER, enroll, gql, order_input

EVALUATE_CART = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) { pointsToEarn discounts { ruleId amount { amount } } }
}"""


async def _preview_and_record(admin) -> tuple[dict, dict]:
    customer = unique("cust")
    await enroll(admin, customer)
    line = {"sku": "CRIB-1", "quantity": 1, "unitPrice": "40.00", "category": "cribs"}
    request = {"customerExternalId": customer, "currency": "EUR", "lines": [line], "couponCodes": ["WELCOME10"]}
    preview = (await gql(admin, EVALUATE_CART, input=request))["evaluateCart"]
    order = order_input(unique("order"), customer, ("CRIB-1", 1, "40.00"), couponCodes=["WELCOME10"])
    recorded = (await gql(admin, RECORD_ORDER, input=order))["recordOrder"]
    return preview, recorded


async def test_points_count_the_subtotal_before_a_coupons_discount_by_default(admin):
    preview, recorded = await _preview_and_record(admin)

    assert preview["discounts"] == [{"ruleId": "welcome10", "amount": {"amount": "10.00"}}]
    assert (preview["pointsToEarn"], recorded["pointsEarned"]) == (40, 40)


async def test_earn_on_paid_counts_what_is_paid_after_the_coupons_discount(server: Server, tmp_path: Path):
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    program = folder / "program.yaml"
    program.write_text(
        program.read_text().replace(
            "max_discount_per_order: {amount: 25}", "max_discount_per_order: {amount: 25}\n  points: {earn_on: paid}"
        )
    )
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        async with running.client() as admin:
            preview, recorded = await _preview_and_record(admin)

    assert (preview["pointsToEarn"], recorded["pointsEarned"]) == (30, 30)
