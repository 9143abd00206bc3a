from __future__ import annotations

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from api.carts.types import CartEvaluation, EvaluateCartInput, EvaluateEventInput, EventEvaluation
from api.context import Info
from api.errors import user_errors
from api.orders.mutations import line_inputs
from api.permissions import own_customer_or_scope
from app import carts
from domain.auth import CustomerCaller, Scope
from domain.errors import DomainError

MayEvaluateFor = own_customer_or_scope(Scope.CUSTOMERS_READ, Scope.ORDERS_WRITE)


def _for_caller(info: Info, customer_external_id: str | None) -> str | None:
    """A customer token evaluates for its own customer when the input names none."""
    caller = info.context.caller
    if customer_external_id is None and isinstance(caller, CustomerCaller):
        return caller.external_id
    return customer_external_id


def _selects(info: Info, name: str) -> bool:
    """Whether the query selects `name` on this field's result, fragments included: the
    whole trace (a "conditions not met" entry per rule considered) is most of the cost of
    evaluating a large program, so it is built only for a client that reads it."""
    return any(_found(field.selections, name) for field in info.selected_fields)


def _found(selections: list[Selection], name: str) -> bool:
    # A module function, not a closure that calls itself: that closure is a reference
    # cycle, and with it everything the request made waited for the garbage collector.
    return any(
        selection.name == name if isinstance(selection, SelectedField) else _found(selection.selections, name)
        for selection in selections
    )


@strawberry.type
class CartQueries:
    @strawberry.field(
        description="A dry run with no side effects: points, free shipping, suggestions and the"
        " trace of every rule considered (applied, or why not).",
        permission_classes=[MayEvaluateFor],
    )
    async def evaluate_cart(self, info: Info, input: EvaluateCartInput) -> CartEvaluation:
        cart = carts.CartInput(
            customer_external_id=_for_caller(info, input.customer_external_id),
            currency=input.currency,
            lines=line_inputs(input.lines),
            shipping_amount=input.shipping_amount,
            coupon_codes=tuple(input.coupon_codes or ()),
            country=input.country,
        )
        trace = _selects(info, "trace")
        try:
            program = info.context.services.program  # one version for the evaluation and its currency
            evaluation = await carts.evaluate_cart(info.context.services.uow, program, cart, trace=trace)
        except DomainError as error:
            return CartEvaluation(errors=user_errors(error))
        return CartEvaluation.of(evaluation, program.exchange.program_currency, trace=trace)

    @strawberry.field(
        description="A dry run of an event (review.published, ...) for a customer: no side effects.",
        permission_classes=[MayEvaluateFor],
    )
    async def evaluate_event(self, info: Info, input: EvaluateEventInput) -> EventEvaluation:
        event = carts.EventInput(
            customer_external_id=input.customer_external_id,
            type=input.type,
            attributes={} if input.attributes is None else input.attributes,
        )
        try:
            evaluation = await carts.evaluate_event(
                info.context.services.uow, info.context.services.program, event, trace=_selects(info, "trace")
            )
        except DomainError as error:
            return EventEvaluation(errors=user_errors(error))
        return EventEvaluation.of(evaluation)
