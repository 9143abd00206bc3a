"""Learned suggestions: "bought together" pairs rebuilt from order history by a job (one
INSERT ... SELECT), offered by evaluateCart when no rule suggests anything."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.clock import utcnow
from app.jobs import run_jobs
from persistence import models
from rules import load_program
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.conftest import uow_of
from tests.graphql_client import RECORD_ORDER, enroll, gql

LEARNED = """
learned_suggestions:
  min_support: 2
  max: 3
  exclude: {{skus: [{excluded_sku}], categories: [{excluded_category}]}}
"""

EVALUATE_CART = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) { suggestions { sku ruleId learned reason } errors { code } }
}"""


@pytest.fixture
def skus() -> dict[str, str]:
    """Skus no other test orders, so that the shared database's history does not matter."""
    prefix = unique("sku")
    return {name: f"{prefix}-{name}" for name in ("A", "B", "C", "D", "X", "S", "CRIB")}


@pytest.fixture
async def learned_server(server: Server, tmp_path: Path, skus: dict[str, str]) -> AsyncIterator[Server]:
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "learned.yaml").write_text(
        LEARNED.format(excluded_sku=skus["X"], excluded_category=skus["S"] + "-samples")
    )
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


async def order(admin, customer: str, *lines: tuple[str, str | None]) -> None:
    request = {
        "externalId": unique("order"),
        "customerExternalId": customer,
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unitPrice": "5.00", "category": category} for sku, category in lines],
    }
    assert (await gql(admin, RECORD_ORDER, input=request))["recordOrder"]["errors"] == []


async def suggestions(admin, *lines: tuple[str, str | None]) -> list[dict]:
    cart = {
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unitPrice": "5.00", "category": category} for sku, category in lines],
    }
    result = (await gql(admin, EVALUATE_CART, input=cart))["evaluateCart"]
    assert result["errors"] == []
    return result["suggestions"]


async def test_the_job_learns_pairs_bought_together_and_a_cart_is_offered_them(learned_server, skus):
    a, b, c, d, x, s = (skus[k] for k in "ABCDXS")
    async with learned_server.client() as admin:
        customer = unique("cust")
        await enroll(admin, customer)
        for _ in range(3):
            await order(admin, customer, (a, None), (b, None), (x, None), (s, s + "-samples"))
        await order(admin, customer, (a, None), (c, None))  # once: below the minimum support
        await order(admin, customer, (a, None), (d, None))
        await order(admin, customer, (a, None), (d, None))
        # Before the job has run there is nothing learned.
        assert await suggestions(admin, (a, None)) == []

        program = load_program(Path(learned_server.settings.rules_dir))
        reports = await run_jobs(uow_of(learned_server), "learned-suggestions", utcnow(), program)

        # B (3 orders) before D (2); C (1) below support; X and the samples are excluded.
        assert [(r["sku"], r["ruleId"], r["learned"]) for r in await suggestions(admin, (a, None))] == [
            (b, "learned", True),
            (d, "learned", True),
        ]
        # Never what the cart holds; an excluded sku suggests nothing.
        assert [r["sku"] for r in await suggestions(admin, (a, None), (b, None))] == [d]
        assert await suggestions(admin, (x, None)) == []
        assert await suggestions(admin, (s, s + "-samples")) == []
    assert reports[0].summary().startswith("learned-suggestions: ")
    stored = await models.LearnedPair.filter(sku=a).order_by("suggested_sku").values_list("suggested_sku", "orders")
    # Stored without exclusions (the rules in force decide at each preview), with support >= 2.
    assert stored == sorted([(b, 3), (d, 2), (s, 3), (x, 3)])


async def test_a_rule_that_covers_the_cart_keeps_its_suggestions_alone(learned_server, skus):
    a, crib = skus["A"], skus["CRIB"]
    async with learned_server.client() as admin:
        customer = unique("cust")
        await enroll(admin, customer)
        for _ in range(2):
            await order(admin, customer, (crib, "cribs"), (a, None))
        program = load_program(Path(learned_server.settings.rules_dir))
        await run_jobs(uow_of(learned_server), "learned-suggestions", utcnow(), program)
        offered = await suggestions(admin, (crib, "cribs"))
    assert [(r["sku"], r["ruleId"], r["learned"]) for r in offered] == [("MATT-CRIB", "crib-mattress", False)]


async def test_the_job_is_off_when_the_rule_files_do_not_ask_for_it(server):
    [report] = await run_jobs(uow_of(server), "learned-suggestions", utcnow(), load_program(TEST_RULES_DIR))
    assert report.summary() == "learned-suggestions: off (no learned_suggestions in the rule files)"
