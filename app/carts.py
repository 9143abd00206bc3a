"""Dry runs: what the rules in force would do for a cart or an event. Nothing is written.

A storefront previews points, free shipping and suggestions; a marketer sees, in the trace,
which rules fire and why the others do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from app.clock import utcnow
from app.customers import get_customer
from domain import validation
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.orders import OrderInput, OrderLineInput, validate_order
from domain.program import CustomerFacts, Evaluation, EventFacts
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
        )
    )
    customer = await _customer_facts(uow, cart.customer_external_id) if cart.customer_external_id else None
    return program.evaluate_order(customer, order.facts, utcnow())


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
    customer = await _customer_facts(uow, event.customer_external_id)
    assert isinstance(event.attributes, Mapping)
    return program.evaluate_event(customer, EventFacts(event_type, dict(event.attributes)), utcnow())


async def _customer_facts(uow: UnitOfWork, external_id: str) -> CustomerFacts:
    return (await get_customer(uow, external_id, "customer_external_id")).facts()
