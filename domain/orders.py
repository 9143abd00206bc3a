"""An order as the store reports it, validated before anything is written."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from domain import validation
from domain.countries import validate_country
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.exchange import Converted, ExchangeRates
from domain.money import MAX_AMOUNT, parse_amount, too_large, validate_currency
from domain.program import LineFacts, OrderFacts

MAX_LINES = 500
MAX_QUANTITY = 1_000_000
MAX_LINE_TAGS = 20
# Made once: json.dumps(sort_keys=True) builds a new encoder on every call.
_SORTED = json.JSONEncoder(sort_keys=True)


@dataclass(frozen=True)
class OrderLineInput:
    sku: str
    quantity: int
    unit_price: str | Decimal
    category: str | None = None
    tags: tuple[str, ...] = ()
    """What the store knows of the product (`feeding`, `furniture`): rules test them."""


@dataclass(frozen=True)
class OrderInput:
    external_id: str
    customer_external_id: str
    currency: str
    lines: tuple[OrderLineInput, ...]
    placed_at: datetime | None = None
    shipping_amount: str | Decimal | None = None
    coupon_codes: tuple[str, ...] = ()
    country: str | None = None
    """The shipping country, ISO 3166-1 alpha-2."""
    cart_id: str | None = None
    """The cart (`updateCart`) this order closes."""


@dataclass(frozen=True)
class ValidOrder:
    external_id: str
    customer_external_id: str
    placed_at: datetime | None
    facts: OrderFacts
    """As the store sent it, in the order's currency: what is stored and replayed."""
    converted: Converted
    """In the program currency: what the rules evaluate and what counts as spend."""
    cart_id: str | None = None

    @cached_property
    def request_hash(self) -> str:
        """Same content, same digest: how a replay is told from a conflicting reuse of an id."""
        body = {
            "customer": self.customer_external_id,
            "currency": self.facts.currency,
            "shipping": str(self.facts.shipping_amount),
            "coupons": sorted(self.facts.coupon_codes),
            "placedAt": self.placed_at.isoformat() if self.placed_at else None,
            "lines": [
                # Tags only when sent, so that orders recorded before lines had tags keep
                # their digest (and their replays stay replays).
                [line.sku, line.category, line.quantity, str(line.unit_price)]
                + ([sorted(line.tags)] if line.tags else [])
                for line in self.facts.lines
            ],
        }
        if self.facts.country is not None:
            body["country"] = self.facts.country
        if self.cart_id is not None:
            body["cart"] = self.cart_id
        return hashlib.sha256(_SORTED.encode(body).encode()).hexdigest()


def validate_order(order: OrderInput, exchange: ExchangeRates) -> ValidOrder:
    """Every problem in the order at once, each naming its field; raises DomainErrors.
    `exchange` says which currencies the program accepts and how they convert."""
    problems = validation.Problems()
    check, errors = problems.check, problems.errors
    check(validation.external_id, order.external_id, ["external_id"])
    check(validation.external_id, order.customer_external_id, ["customer_external_id"])
    currency = check(validate_currency, order.currency, ["currency"])
    check(validation.moment, order.placed_at, ["placed_at"])
    if currency is not None:
        check(exchange.check_accepted, currency)
    if not order.lines:
        errors.append(DomainError(ErrorCode.EMPTY_ORDER, "An order needs at least one line.", ["lines"]))
    if len(order.lines) > MAX_LINES:
        errors.append(DomainError(ErrorCode.INVALID, f"An order has at most {MAX_LINES} lines.", ["lines"]))
    lines: list[LineFacts] = []
    for index, line in enumerate(order.lines):
        where = ["lines", str(index)]
        sku = check(validation.text, line.sku, [*where, "sku"], 128, True)
        category = check(validation.text, line.category, [*where, "category"], 128)
        if not 0 < line.quantity <= MAX_QUANTITY:
            errors.append(
                DomainError(
                    ErrorCode.INVALID_QUANTITY,
                    f"Quantity must be between 1 and {MAX_QUANTITY}; got {line.quantity}.",
                    [*where, "quantity"],
                )
            )
        # Without a known currency the decimals cannot be checked, but a negative or
        # malformed price is reported all the same.
        price = check(parse_amount, line.unit_price, currency, [*where, "unit_price"])
        tags = _tags(line.tags, [*where, "tags"], problems)
        if sku and price is not None and 0 < line.quantity <= MAX_QUANTITY:
            lines.append(LineFacts(sku=sku, quantity=line.quantity, unit_price=price, category=category, tags=tags))
    shipping = Decimal(0)
    if order.shipping_amount is not None:
        shipping = check(parse_amount, order.shipping_amount, currency, ["shipping_amount"]) or Decimal(0)
    coupons = problems.texts(order.coupon_codes, ["coupon_codes"], 64)
    country = check(validate_country, order.country, ["country"]) if order.country is not None else None
    if order.cart_id is not None:
        check(validation.external_id, order.cart_id, ["cart_id"])
    if errors:
        raise DomainErrors(errors)
    assert currency is not None
    facts = OrderFacts(
        currency=currency,
        lines=tuple(lines),
        shipping_amount=shipping,
        coupon_codes=frozenset(coupons),
        country=country,
    )
    if facts.subtotal > MAX_AMOUNT:
        raise too_large(["lines"], "An order's subtotal")
    return ValidOrder(
        external_id=order.external_id,
        customer_external_id=order.customer_external_id,
        placed_at=order.placed_at,
        facts=facts,
        converted=exchange.convert(facts),
        cart_id=order.cart_id,
    )


def _tags(tags: tuple[str, ...], where: list[str], problems: validation.Problems) -> frozenset[str]:
    if len(tags) > MAX_LINE_TAGS:
        problems.errors.append(DomainError(ErrorCode.INVALID, f"A line has at most {MAX_LINE_TAGS} tags.", where))
        return frozenset()
    return frozenset(problems.texts(tags, where, 64))
