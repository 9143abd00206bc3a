from decimal import Decimal

import pytest

from domain.errors import DomainError
from domain.exchange import ExchangeRates
from domain.money import MAX_AMOUNT, is_currency, minor_units, parse_amount
from domain.program import LineFacts, OrderFacts


def test_every_active_currency_is_known_with_its_minor_units():
    assert (minor_units("USD"), minor_units("EUR"), minor_units("JPY"), minor_units("KWD")) == (2, 2, 0, 3)
    assert is_currency("VND") and is_currency("CHF")


@pytest.mark.parametrize("code", ["XYZ", "usd", "XAU", "XXX", ""])
def test_made_up_codes_and_codes_that_are_not_money_are_not_currencies(code):
    assert not is_currency(code)


@pytest.mark.parametrize("text", ["-0", "1_000", " 1 ", "1 ", "+1", "1,5", ".5", "NaN", "Infinity", "0x10"])
def test_amounts_are_parsed_strictly(text):
    with pytest.raises(DomainError) as error:
        parse_amount(text, "EUR", ["unit_price"])
    assert error.value.code in ("INVALID_AMOUNT", "INVALID_PRICE")
    assert error.value.field == ["unit_price"]


@pytest.mark.parametrize("text", ["1e17", "1e30", "1e400", "1000000000000.01"])
def test_amounts_too_large_for_their_columns_name_the_limit(text):
    with pytest.raises(DomainError) as error:
        parse_amount(text, "EUR", ["unitPrice"])
    assert error.value.code == "INVALID_AMOUNT"
    assert "1,000,000,000,000" in error.value.message


def test_the_largest_amount_and_exponent_notation_within_it_are_accepted():
    assert parse_amount("1e12", "EUR", ["x"]) == MAX_AMOUNT
    assert parse_amount("1.5e2", "JPY", ["x"]) == Decimal(150)


def order(currency: str, *prices: str, shipping: str = "0") -> OrderFacts:
    lines = tuple(LineFacts(f"S{i}", 1, Decimal(p)) for i, p in enumerate(prices))
    return OrderFacts(currency=currency, lines=lines, shipping_amount=Decimal(shipping))


def test_an_order_in_an_accepted_currency_is_converted_line_by_line_to_the_program_currency():
    rates = ExchangeRates("EUR", {"JPY": Decimal("0.0062"), "USD": Decimal("0.92")})
    converted = rates.convert(order("JPY", "16000", "1", shipping="500"))
    assert [line.unit_price for line in converted.facts.lines] == [Decimal("99.20"), Decimal("0.01")]
    assert converted.facts.shipping_amount == Decimal("3.10")
    assert (converted.subtotal, converted.rate) == (Decimal("99.21"), Decimal("0.0062"))
    assert converted.facts.currency == "JPY"


def test_an_order_in_the_program_currency_is_unchanged():
    facts = order("EUR", "10.00")
    assert ExchangeRates("EUR").convert(facts).facts == facts


def test_an_order_in_a_currency_the_program_does_not_accept_is_refused():
    with pytest.raises(DomainError) as error:
        ExchangeRates("EUR", {"USD": Decimal("0.92")}).convert(order("VND", "2500000"))
    assert error.value.code == "CURRENCY_NOT_ACCEPTED"
    assert error.value.message == "This program does not accept VND; it accepts EUR, USD."


def test_a_converted_subtotal_past_the_limit_is_refused():
    with pytest.raises(DomainError) as error:
        ExchangeRates("VND", {"EUR": Decimal("27000")}).convert(order("EUR", "100000000"))
    assert error.value.code == "INVALID_AMOUNT"
    assert "1,000,000,000,000" in error.value.message
