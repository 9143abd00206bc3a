from decimal import Decimal

import pytest

from domain.errors import DomainErrors
from domain.exchange import ExchangeRates
from domain.money import parse_amount
from domain.orders import OrderInput, OrderLineInput
from domain.orders import validate_order as validate

EUR_ONLY = ExchangeRates("EUR")


def validate_order(data, exchange=EUR_ONLY):
    return validate(data, exchange)


def order(*lines, currency="EUR", **extra):
    return OrderInput("o-1", "c-1", currency, tuple(OrderLineInput(*line) for line in lines), **extra)


def test_a_valid_order_keeps_exact_amounts():
    valid = validate_order(order(("A", 3, "0.10"), ("B", 1, Decimal("19.99"))))
    assert valid.facts.subtotal == Decimal("20.29")


def test_the_same_order_has_the_same_request_hash_and_another_does_not():
    a = validate_order(order(("A", 1, "1.00")))
    assert a.request_hash == validate_order(order(("A", 1, "1.0"))).request_hash
    assert a.request_hash != validate_order(order(("A", 2, "1.00"))).request_hash


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [("10", "JPY", Decimal("10")), ("1.5", "KWD", Decimal("1.500")), ("2.50", "EUR", Decimal("2.50"))],
)
def test_amounts_follow_the_currency_minor_units(value, currency, expected):
    assert parse_amount(value, currency, ["x"]) == expected


def test_yen_has_no_cents():
    with pytest.raises(Exception) as error:
        parse_amount("10.5", "JPY", ["x"])
    assert error.value.code == "INVALID_AMOUNT"


def test_all_problems_are_reported_with_their_fields():
    with pytest.raises(DomainErrors) as error:
        validate_order(order(("", 0, "-1"), currency="XXX"))
    assert {(e.code, tuple(e.field)) for e in error.value.errors} == {
        ("UNKNOWN_CURRENCY", ("currency",)),
        ("REQUIRED", ("lines", "0", "sku")),
        ("INVALID_QUANTITY", ("lines", "0", "quantity")),
        ("INVALID_PRICE", ("lines", "0", "unit_price")),
    }
