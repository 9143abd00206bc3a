"""Dry runs: what the rules in force would do for a cart or an event. Nothing is written.

A storefront previews points, free shipping, suggestions and the rewards the customer can
redeem on the cart (or nearly can); a marketer sees, in the trace, which rules fire and why
the others do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from app.clock import utcnow
from app.limits import evaluate_within_limits
from app.reads import get_customer_with_usage
from app.redemptions import CartRewards, plain_coupons, rewards_for_cart, usable_redemptions
from app.suggestions import with_learned_suggestions
from domain import validation
from domain.customers import Customer
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.ledger import Balance
from domain.orders import OrderInput, OrderLineInput, validate_order
from domain.program import Evaluation, EventFacts
from persistence.rule_uses import UsageJson
from persistence.unit_of_work import Session, UnitOfWork
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
    country: str | None = None


@dataclass(frozen=True)
class EventInput:
    customer_external_id: str
    type: str
    attributes: object = field(default_factory=dict)
    """A JSON object as the client sent it; anything else is refused."""


@dataclass(frozen=True)
class CartEvaluation:
    evaluation: Evaluation
    rewards: CartRewards
    """For a customer's cart; none for an anonymous one."""


async def evaluate_cart(uow: UnitOfWork, program: Program, cart: CartInput, *, trace: bool = True) -> CartEvaluation:
    """`trace=False`: the evaluation's trace keeps only what applied (Program.evaluate_order),
    for a client that does not read the trace."""
    async with uow.reading() as session:
        return await _evaluate_cart(session, program, cart, trace)


async def points_to_earn(session: Session, program: Program, cart: CartInput) -> int:
    """What recording the cart as an order would earn now (the abandoned-carts job): the
    evaluation `evaluate_cart` makes, without its trace, suggestions or rewards."""
    evaluated = await _evaluate_cart(session, program, cart, trace=False, extras=False)
    return evaluated.evaluation.points


async def _evaluate_cart(
    session: Session, program: Program, cart: CartInput, trace: bool, *, extras: bool = True
) -> CartEvaluation:
    order = validate_order(
        OrderInput(
            external_id=DRY_RUN_ID,
            customer_external_id=cart.customer_external_id or DRY_RUN_ID,
            currency=cart.currency,
            lines=cart.lines,
            shipping_amount=cart.shipping_amount,
            coupon_codes=cart.coupon_codes,
            country=cart.country,
        ),
        program.exchange,
    )
    customer_id, customer, usage = (
        await _customer(session, cart.customer_external_id) if cart.customer_external_id else (None, None, None)
    )
    facts = customer.facts() if customer else None
    now = utcnow()
    # A redemption's code shows what it gives (or raises why it cannot be used); a minimum
    # order it does not reach is in the trace, as rules' conditions are.
    redeemed = await usable_redemptions(session, cart.coupon_codes, cart.customer_external_id, now)
    rewards = [r.reward for r in redeemed]
    order_facts = plain_coupons(order.converted.facts)
    limited = await evaluate_within_limits(
        session,
        program,
        customer_id,
        now,
        lambda usage: program.evaluate_order(facts, order_facts, now, usage, rewards, trace=trace),
        dry_run=True,
        read=usage,
    )
    evaluation = limited.evaluation
    # What recordOrder would refuse for points, a dry run refuses too (pointsToEarn is an Int).
    (customer.balance if customer else Balance()).after_earning(evaluation)
    if not extras:
        return CartEvaluation(evaluation, CartRewards())
    evaluation = await with_learned_suggestions(session, program, order.converted.facts, evaluation)
    if customer_id is None or customer is None:
        return CartEvaluation(evaluation, CartRewards())
    # Minimum orders are in the program currency, as recordOrder checks them.
    offered = await rewards_for_cart(session, program, customer_id, customer, order.converted.subtotal, now)
    return CartEvaluation(evaluation, offered)


async def evaluate_event(uow: UnitOfWork, program: Program, event: EventInput, *, trace: bool = True) -> Evaluation:
    async with uow.reading() as session:
        return await _evaluate_event(session, program, event, trace)


async def _evaluate_event(session: Session, program: Program, event: EventInput, trace: bool) -> Evaluation:
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
    customer_id, customer, usage = await _customer(session, event.customer_external_id)
    assert isinstance(event.attributes, Mapping)
    now = utcnow()
    facts, event_facts = customer.facts(), EventFacts(event_type, dict(event.attributes))
    limited = await evaluate_within_limits(
        session,
        program,
        customer_id,
        now,
        lambda usage: program.evaluate_event(facts, event_facts, now, usage, trace=trace),
        dry_run=True,
        event=event_facts,
        read=usage,
    )
    evaluation = limited.evaluation
    customer.balance.after_earning(evaluation)  # as recordEvent would refuse
    return evaluation


async def _customer(session: Session, external_id: str) -> tuple[int, Customer, UsageJson]:
    try:
        return await get_customer_with_usage(session, external_id)
    except DomainError as error:
        # get_customer names its own argument; here the input names it customer_external_id.
        error.field = ["customer_external_id"]
        raise
