"""A program earns in its own currency; orders in the currencies its rule files accept are
converted at their declared rates, and amounts are parsed strictly. (The test program is in
EUR and accepts USD at 0.92 and JPY at 0.0062: tests/fixtures/rules/currencies.yaml.)"""

from __future__ import annotations

from decimal import Decimal

import pytest

from app import reads
from app.orders import find_order
from tests.conftest import unique
from tests.e2e.test_evaluate_cart import cart, evaluate
from tests.e2e.test_returns_and_limits import _return
from tests.graphql_client import CUSTOMER, RECORD_ORDER, enroll, gql, order_input

RECORD = RECORD_ORDER.replace(
    "subtotal { amount currency }", "subtotal { amount currency } spend { amount currency } exchangeRate"
)


async def record(admin, customer: str, *lines, order: str | None = None, **extra) -> dict:
    request = order_input(order or unique("order"), customer, *lines, **extra)
    return (await gql(admin, RECORD, input=request))["recordOrder"]


async def spend_of(uow, customer: str) -> Decimal:
    found = await reads.find_customer(uow, customer)
    assert found is not None
    return found.lifetime_spend


async def test_usd_is_a_currency_and_a_usd_order_earns_on_its_value_in_the_program_currency(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)

    payload = await record(admin, customer, ("SKU-1", 2, "50.00"), currency="USD")

    assert payload["errors"] == []
    assert payload["pointsEarned"] == 92
    order = payload["order"]
    assert order["subtotal"] == {"amount": "100.00", "currency": "USD"}
    assert order["spend"] == {"amount": "92.00", "currency": "EUR"}
    assert order["exchangeRate"] == "0.92"
    assert await spend_of(uow, customer) == Decimal("92")


async def test_a_cart_worth_about_100_euros_earns_about_100_points_in_any_accepted_currency(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)

    eur = await record(admin, customer, ("SKU-1", 1, "100.00"))
    jpy = await record(admin, customer, ("SKU-1", 1, "16000"), currency="JPY")

    assert (eur["pointsEarned"], jpy["pointsEarned"]) == (100, 99)
    assert jpy["order"]["spend"] == {"amount": "99.20", "currency": "EUR"}
    assert await spend_of(uow, customer) == Decimal("199.20")


async def test_an_order_in_a_currency_the_program_does_not_accept_is_refused_and_writes_nothing(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    order = unique("order")

    refused = await record(admin, customer, ("SKU-1", 1, "2500000"), order=order, currency="VND")

    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("CURRENCY_NOT_ACCEPTED", ["currency"])]
    assert refused["errors"][0]["message"] == "This program does not accept VND; it accepts EUR, JPY, USD."
    seen = (await gql(admin, CUSTOMER, id=customer))["customer"]
    assert seen["points"] == {"available": 0, "pending": 0, "lifetimeEarned": 0}
    assert seen["tier"]["name"] == "Bronze"
    assert await find_order(uow, order) is None
    assert await spend_of(uow, customer) == 0
    # Nothing was written under the id: the same order in euros is a first recording.
    assert (await record(admin, customer, ("SKU-1", 1, "100.00"), order=order))["replayed"] is False


async def test_a_cart_preview_applies_the_same_currency_rules_as_an_order(admin):
    assert (await evaluate(admin, cart(("SKU-1", 1, "16000", None), currency="JPY")))["pointsToEarn"] == 99
    refused = await evaluate(admin, cart(("SKU-1", 1, "2500000", None), currency="VND"))
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("CURRENCY_NOT_ACCEPTED", ["currency"])]


async def test_a_return_takes_back_spend_at_the_rate_the_order_was_recorded_at(uow, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    payload = await record(admin, customer, ("A", 1, "30.00"), ("B", 1, "70.00"), currency="USD")
    order = payload["order"]["externalId"]

    first = await _return(admin, order, ("A", 1))
    assert first["errors"] == []
    assert first["return"]["returnedAmount"] == {"amount": "30.00", "currency": "USD"}
    assert first["pointsReversed"] == 27  # 92 points earned, 30% of them rounded down
    assert await spend_of(uow, customer) == Decimal("64.40")
    await _return(admin, order, ("B", 1))
    assert await spend_of(uow, customer) == 0


@pytest.mark.parametrize(
    ("price", "code"),
    [("-0", "INVALID_PRICE"), ("1_000", "INVALID_AMOUNT"), (" 1 ", "INVALID_AMOUNT"), ("1e-400", "INVALID_AMOUNT")],
)
async def test_amounts_are_parsed_strictly(admin, price, code):
    customer = unique("cust")
    await enroll(admin, customer)
    payload = await record(admin, customer, ("SKU-1", 1, price))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["lines", "0", "unitPrice"])]


@pytest.mark.parametrize("price", ["1e17", "1e30", "1e400", "1000000000000.01"])
async def test_amounts_too_large_for_their_columns_are_a_user_error_naming_the_limit(admin, price):
    customer = unique("cust")
    await enroll(admin, customer)
    for request in ({"shippingAmount": price}, {}):
        line = ("SKU-1", 1, "1.00" if request else price)
        payload = await record(admin, customer, line, **request)
        [error] = payload["errors"]
        assert error["code"] == "INVALID_AMOUNT"
        assert "at most 1,000,000,000,000" in error["message"]
    assert (await gql(admin, CUSTOMER, id=customer))["customer"]["points"]["lifetimeEarned"] == 0


async def test_an_order_whose_lines_add_up_past_the_limit_is_refused(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    payload = await record(admin, customer, ("SKU-1", 1_000_000, "1000000000.00"))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_AMOUNT", ["lines"])]
