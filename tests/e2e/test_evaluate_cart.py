"""A storefront previews a cart, a marketer asks why a rule did not fire: nothing is written."""

from __future__ import annotations

import gc
from types import FunctionType

from graphql.execution import Executor

from api.context import Context
from app.credentials import create_api_key
from persistence import repositories as repo
from tests.conftest import unique
from tests.graphql_client import CUSTOMER, RECORD_ORDER, TOKEN, enroll, gql, gql_raw, order_input

EVALUATE_CART = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) {
    pointsToEarn rulesVersion
    freeShipping { eligible remaining { amount currency } threshold { amount currency } ruleId }
    suggestions { sku ruleId reason }
    appliedRules { ruleId points }
    discounts { ruleId amount { amount currency } }
    trace { ruleId applied reason }
    errors { field code message }
  }
}"""

EVALUATE_EVENT = """
query($input: EvaluateEventInput!) {
  evaluateEvent(input: $input) {
    pointsToEarn rulesVersion
    appliedRules { ruleId points }
    trace { ruleId applied reason }
    errors { field code message }
  }
}"""


def cart(*lines: tuple[str, int, str, str | None], **extra) -> dict:
    return {
        "currency": "EUR",
        "lines": [{"sku": s, "quantity": q, "unitPrice": p, "category": c} for s, q, p, c in lines],
        **extra,
    }


async def evaluate(client, request: dict) -> dict:
    return (await gql(client, EVALUATE_CART, input=request))["evaluateCart"]


async def evaluate_event(client, customer: str, type: str, attributes: object = None) -> dict:
    request = {"customerExternalId": customer, "type": type, "attributes": attributes}
    return (await gql(client, EVALUATE_EVENT, input=request))["evaluateEvent"]


async def token_for(admin, customer: str) -> str:
    return (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]


async def test_a_cart_preview_reports_points_and_why_a_rule_did_not_fire_and_writes_nothing(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("S", 1, "20.00")))
    before = (await gql(admin, CUSTOMER, id=customer))["customer"]

    result = await evaluate(admin, cart(("LAMP", 2, "20.00", None), customerExternalId=customer))

    assert result["errors"] == []
    assert result["pointsToEarn"] == 40
    assert result["appliedRules"] == [{"ruleId": "base-earn", "points": 40}]
    trace = {t["ruleId"]: t for t in result["trace"]}
    assert trace["silver-multiplier"] == {
        "ruleId": "silver-multiplier",
        "applied": False,
        "reason": "conditions not met: customer.tier=Silver",
    }
    assert trace["base-earn"]["applied"] is True
    after = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert after == before
    assert (await repo.ledger_sums(customer)).available == 20


async def test_a_silver_customer_sees_the_multiplier_in_the_preview(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("BIG", 1, "600.00")))

    result = await evaluate(admin, cart(("LAMP", 1, "100.00", None), customerExternalId=customer))

    assert result["pointsToEarn"] == 150
    assert {r["ruleId"]: r["points"] for r in result["appliedRules"]} == {
        "base-earn": 100,
        "silver-multiplier": 50,
        "free-shipping-from-50": 0,
    }


async def test_a_cart_preview_shows_free_shipping_suggestions_and_discounts(admin):
    result = await evaluate(admin, cart(("CRIB-1", 1, "40.00", "cribs"), couponCodes=["WELCOME10"]))

    assert result["errors"] == []
    assert result["freeShipping"] == {
        "eligible": False,
        "remaining": {"amount": "10.00", "currency": "EUR"},
        "threshold": {"amount": "50.00", "currency": "EUR"},
        "ruleId": "free-shipping-from-50",
    }
    assert [(s["sku"], s["ruleId"]) for s in result["suggestions"]] == [("MATT-CRIB", "crib-mattress")]
    assert result["discounts"] == [{"ruleId": "welcome10", "amount": {"amount": "10.00", "currency": "EUR"}}]
    applied = {r["ruleId"] for r in result["appliedRules"]}
    assert applied == {"base-earn", "crib-mattress", "welcome10"}


async def test_an_anonymous_cart_earns_base_points_and_says_which_rules_need_a_customer(admin):
    result = await evaluate(admin, cart(("LAMP", 1, "60.00", None)))

    assert result["pointsToEarn"] == 60
    assert result["freeShipping"]["eligible"] is True
    # Every amount has the currency's exponent: an eligible cart has 0.00 to go, not 0.
    assert result["freeShipping"]["remaining"] == {"amount": "0.00", "currency": "EUR"}
    trace = {t["ruleId"]: t["reason"] for t in result["trace"] if not t["applied"]}
    assert trace["silver-multiplier"] == "needs a customer (anonymous cart)"


WITHOUT_TRACE = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) {
    pointsToEarn freeShipping { eligible ruleId } suggestions { sku ruleId }
    appliedRules { ruleId points reason } discounts { ruleId amount { amount } }
  }
}"""

TRACE_IN_A_FRAGMENT = """
query($input: EvaluateCartInput!) {
  evaluateCart(input: $input) {
    pointsToEarn freeShipping { eligible ruleId } suggestions { sku ruleId }
    appliedRules { ruleId points reason } discounts { ruleId amount { amount } }
    ...Why
  }
}
fragment Why on CartEvaluation { trace { ruleId applied reason } }"""


async def test_a_preview_without_the_trace_answers_the_same_and_a_fragment_still_gets_the_whole_trace(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    request = cart(("CRIB-1", 1, "40.00", "cribs"), ("LAMP", 2, "20.00", None), customerExternalId=customer)
    request["couponCodes"] = ["WELCOME10"]

    lean = (await gql(admin, WITHOUT_TRACE, input=request))["evaluateCart"]
    traced = (await gql(admin, TRACE_IN_A_FRAGMENT, input=request))["evaluateCart"]

    assert lean == {key: value for key, value in traced.items() if key != "trace"}
    assert {r["ruleId"] for r in lean["appliedRules"]} >= {"base-earn", "crib-mattress", "welcome10"}
    trace = {t["ruleId"]: t for t in traced["trace"]}
    assert trace["silver-multiplier"]["reason"] == "conditions not met: customer.tier=Silver"
    assert [t["ruleId"] for t in traced["trace"] if t["applied"]] == [r["ruleId"] for r in lean["appliedRules"]]


async def test_a_bad_cart_is_a_user_error_for_each_field(admin):
    result = await evaluate(admin, {"currency": "EURO", "lines": [{"sku": "S", "quantity": 0, "unitPrice": "1"}]})

    assert result["pointsToEarn"] == 0 and result["trace"] == []
    assert {(tuple(e["field"]), e["code"]) for e in result["errors"]} == {
        (("currency",), "UNKNOWN_CURRENCY"),
        (("lines", "0", "quantity"), "INVALID_QUANTITY"),
    }


async def test_an_unknown_customer_is_a_user_error(admin):
    result = await evaluate(admin, cart(("S", 1, "1.00", None), customerExternalId="nobody-here"))
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(["customerExternalId"], "CUSTOMER_NOT_FOUND")]


async def test_a_customer_token_previews_its_own_cart_by_default(admin, server):
    customer = unique("cust")
    await enroll(admin, customer)
    await gql(admin, RECORD_ORDER, input=order_input(unique("order"), customer, ("BIG", 1, "600.00")))

    async with server.client(await token_for(admin, customer)) as storefront:
        implicit = await evaluate(storefront, cart(("LAMP", 1, "10.00", None)))
        explicit = await evaluate(storefront, cart(("LAMP", 1, "10.00", None), customerExternalId=customer))

    # 15, not 10: the Silver multiplier shows the token's customer was evaluated.
    assert implicit["pointsToEarn"] == explicit["pointsToEarn"] == 15


async def test_a_customer_token_cannot_preview_for_another_customer(admin, server):
    mine, theirs = unique("cust"), unique("cust")
    await enroll(admin, mine)
    await enroll(admin, theirs)

    async with server.client(await token_for(admin, mine)) as storefront:
        body = (
            await gql_raw(storefront, EVALUATE_CART, input=cart(("S", 1, "1.00", None), customerExternalId=theirs))
        ).json()

    assert body["data"] is None
    assert "customer's own token" in body["errors"][0]["message"]


async def test_a_cart_preview_needs_credentials_with_the_right_scope(server):
    rules_key = await create_api_key(server.uow, "rules-editor", ["rules:write"])
    orders_key = await create_api_key(server.uow, "store", ["orders:write"])
    request = cart(("S", 1, "1.00", None))

    async with server.client(None) as anonymous:
        no_credentials = (await gql_raw(anonymous, EVALUATE_CART, input=request)).json()
    async with server.client(rules_key) as client:
        wrong_scope = (await gql_raw(client, EVALUATE_CART, input=request)).json()
    async with server.client(orders_key) as client:
        allowed = await evaluate(client, request)

    assert no_credentials["data"] is None and no_credentials["errors"]
    assert wrong_scope["data"] is None and wrong_scope["errors"]
    assert allowed["pointsToEarn"] == 1


async def test_an_event_preview_awards_or_says_why_not_and_writes_nothing(admin):
    customer = unique("cust")
    await enroll(admin, customer)

    five = await evaluate_event(admin, customer, "review.published", {"rating": 5})
    two = await evaluate_event(admin, customer, "review.published", {"rating": 2})

    assert five["errors"] == [] and five["pointsToEarn"] == 50
    assert five["appliedRules"] == [{"ruleId": "review-bonus", "points": 50}]
    assert two["pointsToEarn"] == 0
    assert two["trace"] == [
        {"ruleId": "review-bonus", "applied": False, "reason": "conditions not met: event.rating.gte=4"}
    ]
    assert (await repo.ledger_sums(customer)).available == 0


async def test_an_event_preview_without_the_trace_awards_the_same(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    query = """query($input: EvaluateEventInput!) {
      evaluateEvent(input: $input) { pointsToEarn appliedRules { ruleId points } }
    }"""
    request = {"customerExternalId": customer, "type": "review.published", "attributes": {"rating": 5}}

    lean = (await gql(admin, query, input=request))["evaluateEvent"]

    assert lean == {"pointsToEarn": 50, "appliedRules": [{"ruleId": "review-bonus", "points": 50}]}


async def test_an_event_preview_refuses_attributes_that_are_not_an_object(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    result = await evaluate_event(admin, customer, " ", [1, 2])
    assert {(tuple(e["field"]), e["code"]) for e in result["errors"]} == {
        (("type",), "REQUIRED"),
        (("attributes",), "INVALID"),
    }


async def test_a_customer_token_cannot_preview_an_event_for_another_customer(admin, server):
    mine, theirs = unique("cust"), unique("cust")
    await enroll(admin, mine)
    await enroll(admin, theirs)
    async with server.client(await token_for(admin, mine)) as storefront:
        own = await evaluate_event(storefront, mine, "survey.completed")
        body = (await gql_raw(storefront, EVALUATE_EVENT, input={"customerExternalId": theirs, "type": "x.y"})).json()
    assert own["errors"] == []
    assert body["data"] is None and body["errors"]


def _request_made(thing: object) -> bool:
    """Made by a request's GraphQL execution: its context, graphql-core's execution context,
    or a function of the API's modules (a closure, as _selects' recursive one was)."""
    if isinstance(thing, Context | Executor):
        return True
    return isinstance(thing, FunctionType) and thing.__module__.startswith("api.")


async def test_a_preview_is_freed_as_it_ends_not_by_the_garbage_collector(admin):
    """No reference cycle per request: a collection that frees many requests at once is a
    pause that the requests in flight wait for (their p99)."""
    customer = unique("cust")
    await enroll(admin, customer)
    request = cart(("CRIB-1", 1, "40.00", "cribs"), ("LAMP", 2, "20.00", None), customerExternalId=customer)
    await gql(admin, WITHOUT_TRACE, input=request)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for query in (WITHOUT_TRACE, TRACE_IN_A_FRAGMENT, EVALUATE_CART):
            await gql(admin, query, input=request)
        gc.collect()
        left = [type(thing).__qualname__ for thing in gc.garbage if _request_made(thing)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()

    assert left == []
