"""programMetrics against figures worked out by hand from tests/e2e/analytics_data.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.credentials import create_api_key
from tests.conftest import Server
from tests.e2e.analytics_data import server_with_history
from tests.graphql_client import gql, gql_raw

MONEY = "{ amount currency }"
FIGURES = f"""
orders customers revenue {MONEY} netPromoterScore respondents retentionRate churnRate repeatPurchaseRate
purchaseFrequency averageOrderValue {MONEY} historicLifetimeValue {MONEY} predictedLifetimeValue {MONEY}
pointsEarned pointsRedeemed redemptionRate neverRedeemedShare members newEnrolments activeMemberRate engagement
outstandingPoints pointsLiability {MONEY}
"""

METRICS = f"""
query($from: Date!, $to: Date!) {{
  programMetrics(from: $from, to: $to) {{
    errors {{ field code message }}
    metrics {{
      currency
      overall {{ {FIGURES} }}
      byTier {{ key metrics {{ {FIGURES} }} }}
      byCohort {{ key metrics {{ {FIGURES} }} }}
      byMonth {{ key metrics {{ {FIGURES} }} }}
      rules {{ ruleId pointsAwarded customersReached revenue {MONEY} }}
      acquisition {{ marketingSpend {MONEY} newEnrolments customerAcquisitionCost {MONEY} }}
    }}
  }}
}}"""


@pytest.fixture(scope="module")
async def history(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with server_with_history(Path(tmp_path_factory.mktemp("analytics"))) as server:
        yield server


async def _metrics(server: Server, first: str, last: str) -> Any:
    async with server.client() as admin:
        result = (await gql(admin, METRICS, **{"from": first, "to": last}))["programMetrics"]
    assert result["errors"] == []
    return _amounts(result["metrics"])


def _amounts(value: object) -> object:
    """Every Money as its amount, once checked to be in the program currency (EUR), so that
    the figures below read as worked out by hand."""
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"}:
            assert value["currency"] == "EUR", value
            return value["amount"]
        return {key: _amounts(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_amounts(item) for item in value]
    return value


def _group(groups: list[dict], key: str) -> dict:
    [found] = [g["metrics"] for g in groups if g["key"] == key]
    return found


async def test_march_overall_matches_the_figures_worked_by_hand(history):
    m = await _metrics(history, "2025-03-01", "2025-03-31")

    assert m["currency"] == "EUR"
    overall = m["overall"]
    # Orders A 100, A 40, D 80, B 20: three customers, one of them (A) twice.
    assert (overall["orders"], overall["customers"], overall["revenue"]) == (4, 3, "240.00")
    # Scores 10 and 9 promote, 7 is passive, 3 detracts: (2 - 1) / 4 x 100.
    assert (overall["netPromoterScore"], overall["respondents"]) == (25.0, 4)
    assert overall["averageOrderValue"] == "60.00"
    assert overall["purchaseFrequency"] == pytest.approx(4 / 3)
    assert overall["repeatPurchaseRate"] == pytest.approx(1 / 3)
    # The previous 31 days (Jan 29 - Feb 28) had A, B and C; A and B bought again.
    assert overall["retentionRate"] == pytest.approx(2 / 3)
    assert overall["churnRate"] == pytest.approx(1 / 3)
    # 60.00 x 4/3 orders per customer x 1 / (1/3) periods.
    assert overall["predictedLifetimeValue"] == "240.00"
    # Every order placed by March's end: 740 + 70 + 30 + 80 over four customers.
    assert overall["historicLifetimeValue"] == "230.00"
    # A: 100 + 50 + 40 + 20 (Silver); D 80; B 20; review 50; follow 25.
    assert overall["pointsEarned"] == 385
    assert overall["pointsRedeemed"] == 200
    assert overall["redemptionRate"] == pytest.approx(200 / 385)
    assert overall["neverRedeemedShare"] == pytest.approx(3 / 4)  # E enrolled in April
    assert (overall["members"], overall["newEnrolments"]) == (4, 1)
    assert overall["activeMemberRate"] == pytest.approx(3 / 4)  # C did nothing in March
    assert overall["engagement"] == pytest.approx(2 / 4)
    # A 685, B 70, C 30, D 80, at the best fixed-value reward's 10 EUR per 100 points.
    assert overall["outstandingPoints"] == 865
    assert overall["pointsLiability"] == "86.50"
    assert m["acquisition"] == {"marketingSpend": "100.00", "newEnrolments": 1, "customerAcquisitionCost": "100.00"}


async def test_march_per_rule_counts_points_customers_and_the_orders_revenue(history):
    m = await _metrics(history, "2025-03-01", "2025-03-31")

    assert m["rules"] == [
        {"ruleId": "base-earn", "pointsAwarded": 240, "customersReached": 3, "revenue": "240.00"},
        {"ruleId": "follow-once", "pointsAwarded": 25, "customersReached": 1, "revenue": None},
        {"ruleId": "review-bonus", "pointsAwarded": 50, "customersReached": 1, "revenue": None},
        {"ruleId": "silver-multiplier", "pointsAwarded": 70, "customersReached": 1, "revenue": "140.00"},
    ]


async def test_march_by_tier_and_by_cohort(history):
    m = await _metrics(history, "2025-03-01", "2025-03-31")

    assert [g["key"] for g in m["byTier"]] == ["Bronze", "Silver"]
    silver, bronze = _group(m["byTier"], "Silver"), _group(m["byTier"], "Bronze")
    assert (silver["orders"], silver["averageOrderValue"], silver["retentionRate"]) == (2, "70.00", 1.0)
    assert silver["churnRate"] == 0.0
    assert silver["predictedLifetimeValue"] is None  # no one churned: a lifespan without end
    assert (bronze["orders"], bronze["revenue"], bronze["retentionRate"]) == (2, "100.00", 0.5)
    assert (silver["netPromoterScore"], bronze["netPromoterScore"]) == (100.0, 0.0)  # B 9, C 7, D 3
    assert bronze["members"] == 3

    assert [g["key"] for g in m["byCohort"]] == ["2025-01", "2025-02", "2025-03"]
    january, february, march = (_group(m["byCohort"], k) for k in ("2025-01", "2025-02", "2025-03"))
    assert (january["orders"], january["retentionRate"], january["members"]) == (3, 1.0, 2)
    # C bought in February only: a cohort with no March orders has no order value, not 0.
    assert (february["orders"], february["revenue"], february["averageOrderValue"]) == (0, None, None)
    assert (february["retentionRate"], february["churnRate"]) == (0.0, 1.0)
    assert (march["orders"], march["retentionRate"], march["newEnrolments"]) == (1, None, 1)


async def test_by_month_each_month_is_its_own_period(history):
    m = await _metrics(history, "2025-02-01", "2025-03-31")

    assert [g["key"] for g in m["byMonth"]] == ["2025-02", "2025-03"]
    february, march = _group(m["byMonth"], "2025-02"), _group(m["byMonth"], "2025-03")
    assert (february["orders"], february["revenue"], february["retentionRate"]) == (3, "680.00", None)
    assert (february["members"], february["newEnrolments"], february["outstandingPoints"]) == (3, 1, 680)
    assert (march["orders"], march["revenue"], march["members"], march["outstandingPoints"]) == (4, "240.00", 4, 865)
    assert march["retentionRate"] == pytest.approx(2 / 3)
    assert (february["netPromoterScore"], march["netPromoterScore"]) == (-100.0, 25.0)
    assert march["historicLifetimeValue"] is None and march["neverRedeemedShare"] is None


async def test_an_empty_range_answers_null_figures_and_zero_counts(history):
    m = await _metrics(history, "2020-01-01", "2020-12-31")

    overall = m["overall"]
    for name in (
        "revenue", "netPromoterScore", "retentionRate", "churnRate", "repeatPurchaseRate", "purchaseFrequency",
        "averageOrderValue", "historicLifetimeValue", "predictedLifetimeValue", "pointsEarned", "pointsRedeemed",
        "redemptionRate", "neverRedeemedShare", "activeMemberRate", "engagement", "outstandingPoints",
        "pointsLiability",
    ):  # fmt: skip
        assert overall[name] is None, name
    assert (overall["orders"], overall["customers"], overall["members"], overall["respondents"]) == (0, 0, 0, 0)
    assert m["byTier"] == [] and m["byCohort"] == [] and m["rules"] == []
    assert len(m["byMonth"]) == 12 and all(g["metrics"]["averageOrderValue"] is None for g in m["byMonth"])
    assert m["acquisition"] == {"marketingSpend": None, "newEnrolments": 0, "customerAcquisitionCost": None}


async def test_a_range_that_ends_before_it_starts_is_a_user_error(history):
    async with history.client() as admin:
        result = (await gql(admin, METRICS, **{"from": "2025-03-31", "to": "2025-03-01"}))["programMetrics"]

    assert result["metrics"] is None
    assert result["errors"] == [{"field": ["to"], "code": "INVALID", "message": "`to` is before `from`."}]


async def test_recorded_marketing_spend_is_answered_as_money(history):
    spend = """mutation($input: RecordMarketingSpendInput!) {
      recordMarketingSpend(input: $input) { amount { amount currency } errors { code } } }"""
    async with history.client() as admin:
        # A year no other test reads, so their acquisition figures stay as worked out.
        result = await gql(admin, spend, input={"from": "2019-01-01", "to": "2019-01-31", "amount": "12.50"})
    assert result["recordMarketingSpend"] == {"amount": {"amount": "12.50", "currency": "EUR"}, "errors": []}
    assert (await _metrics(history, "2019-01-01", "2019-01-31"))["acquisition"]["marketingSpend"] == "12.50"


async def test_metrics_need_the_metrics_read_scope(history):
    reader = await _key(history, ["metrics:read"])
    other = await _key(history, ["orders:write"])

    async with history.client(reader) as client:
        assert (await gql(client, METRICS, **{"from": "2025-03-01", "to": "2025-03-31"}))["programMetrics"]["metrics"]
    async with history.client(other) as client:
        body = (await gql_raw(client, METRICS, **{"from": "2025-03-01", "to": "2025-03-31"})).json()
    assert body["data"] is None and "metrics:read" in body["errors"][0]["message"]


async def _key(server: Server, scopes: list[str]) -> str:
    from app.bootstrap import running_services

    async with running_services(server.settings) as services:
        return await create_api_key(services.uow, "analyst", scopes)
