"""Dry runs: what the rules in force would do for a cart or an event. Nothing is written.

A storefront previews points, free shipping and suggestions; a marketer sees, in the trace,
which rules fire and why the others do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from app.clock import utcnow
from app.reads import get_customer
from domain import validation
from domain.customers import Customer
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.ledger import Balance, earn_entries
from domain.orders import OrderInput, OrderLineInput, validate_order
from domain.program import Evaluation, EventFacts
from persistence.unit_of_work import UnitOfWork
from rules import Program

DRY_RUN_ID = "dry-run"
"""Stands in for the order id (and an anonymous cart's customer) that validation requires."""

MAX_EVENT_TYPE = 100


@dataclass(frozen=True)
class CartInput:
    customer_external_id: str | None
    """None: an anonymous cart, evaluated without customer facts."""
    currency: str
    lines: tuple[OrderLineInput, ...]
    shipping_amount: str | Decimal | None = None
    coupon_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventInput:
    customer_external_id: str
    type: str
    attributes: object = field(default_factory=dict)
    """A JSON object as the client sent it; anything else is refused."""


async def evaluate_cart(uow: UnitOfWork, program: Program, cart: CartInput) -> Evaluation:
    order = validate_order(
        OrderInput(
            external_id=DRY_RUN_ID,
            customer_external_id=cart.customer_external_id or DRY_RUN_ID,
            currency=cart.currency,
            lines=cart.lines,
            shipping_amount=cart.shipping_amount,
            coupon_codes=cart.coupon_codes,
        ),
        program.exchange,
    )
    customer = await _customer(uow, cart.customer_external_id) if cart.customer_external_id else None
    now = utcnow()
    evaluation = program.evaluate_order(customer.facts() if customer else None, order.converted.facts, now)
    # What recordOrder would refuse for points, a dry run refuses too (pointsToEarn is an Int).
    (customer.balance if customer else Balance()).after(earn_entries(evaluation, now))
    return evaluation


async def evaluate_event(uow: UnitOfWork, program: Program, event: EventInput) -> Evaluation:
    errors: list[DomainError] = []
    event_type = ""
    try:
        validation.external_id(event.customer_external_id, ["customer_external_id"])
    except DomainError as error:
        errors.append(error)
    try:
        event_type = validation.text(event.type, ["type"], MAX_EVENT_TYPE, required=True) or ""
    except DomainError as error:
        errors.append(error)
    if not isinstance(event.attributes, Mapping):
        errors.append(DomainError(ErrorCode.INVALID, "Attributes must be a JSON object.", ["attributes"]))
    if errors:
        raise DomainErrors(errors)
    customer = await _customer(uow, event.customer_external_id)
    assert isinstance(event.attributes, Mapping)
    now = utcnow()
    evaluation = program.evaluate_event(customer.facts(), EventFacts(event_type, dict(event.attributes)), now)
    customer.balance.after(earn_entries(evaluation, now))  # as recordEvent would refuse
    return evaluation


async def _customer(uow: UnitOfWork, external_id: str) -> Customer:
    return await get_customer(uow, external_id, "customer_external_id")
