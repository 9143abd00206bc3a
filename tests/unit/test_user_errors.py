"""Domain field paths become the names of the client's input (api/errors.py)."""

from __future__ import annotations

import pytest

from api.errors import api_path, user_errors
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.exchange import ExchangeRates
from domain.orders import OrderInput, OrderLineInput, validate_order

RATES = ExchangeRates("EUR")


def test_a_domain_path_is_named_as_strawberry_names_the_input():
    assert api_path(["customer_external_id"]) == ["customerExternalId"]
    assert api_path(["lines", "0", "unit_price"]) == ["lines", "0", "unitPrice"]
    assert api_path(["event_types", "1"]) == ["eventTypes", "1"]
    assert api_path(None) is None
    assert api_path([]) == []


def test_the_keys_of_a_json_object_the_client_sent_stay_as_sent():
    assert api_path(["attributes", "shoe_size"]) == ["attributes", "shoe_size"]


def test_an_input_named_otherwise_than_the_domain_field_is_mapped_by_the_operation():
    assert api_path(["order_subtotal"], {"order_subtotal": "cartSubtotal"}) == ["cartSubtotal"]
    assert api_path(["order_subtotal"]) == ["orderSubtotal"]


def test_every_problem_of_an_input_is_given_the_clients_names():
    with pytest.raises(DomainErrors) as refused:
        validate_order(OrderInput("o 1", "c-1", "EUR", (OrderLineInput("A", 1, "-1"),), shipping_amount="x"), RATES)
    paths = sorted(e.field for e in user_errors(refused.value) if e.field)
    assert paths == [["externalId"], ["lines", "0", "unitPrice"], ["shippingAmount"]]
    [one] = user_errors(DomainError(ErrorCode.INVALID, "m", ["placed_at"]))
    assert (one.field, one.message) == (["placedAt"], "m")
