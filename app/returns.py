"""Recording returns: take back what the returned part earned, once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.clock import utcnow
from app.events import POINTS_REVERSED, balance_payload
from app.idempotency import conflict, record_once
from app.metrics import ledger_written
from app.referrals import take_back_referral
from app.reversals import reversal_entries
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance
from domain.money import minor_units
from domain.returns import (
    ReturnInput,
    ValidReturn,
    points_to_reverse,
    returned_value,
    spend_returned,
    validate_return,
)
from persistence.returns import StoredReturn
from persistence.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ReturnResult:
    order_return: StoredReturn
    replayed: bool


async def record_return(uow: UnitOfWork, data: ReturnInput) -> ReturnResult:
    """Idempotent on the return's external id, like orders."""
    ret = validate_return(data)
    return await record_once(
        lambda: _record(uow, ret),
        lambda: _find(uow, ret.external_id),
        lambda existing: _replay(existing, ret),
    )


async def _find(uow: UnitOfWork, external_id: str) -> StoredReturn | None:
    async with uow.reading() as session:
        return await session.returns.find_return(external_id)


async def _record(uow: UnitOfWork, ret: ValidReturn) -> ReturnResult:
    now = utcnow()
    async with uow.transaction() as session:
        order = await session.returns.find_order(ret.order_external_id)
        if order is None:
            raise DomainError(
                ErrorCode.ORDER_NOT_FOUND,
                f"No order has the external id '{ret.order_external_id}'.",
                ["order_external_id"],
            )
        customer = await session.customers.lock_customer(order.customer_external_id, ["order_external_id"])
        # Under the customer's lock, returns of one order are serialised: this check and
        # the cumulative figures below cannot race.
        existing = await session.returns.find_return(ret.external_id)
        if existing is not None:
            return _replay(existing, ret)
        before = await session.returns.returned_before(order.id)
        so_far = {sku: before.get(sku, 0) + ret.quantities.get(sku, 0) for sku in {*before, *ret.quantities}}
        exponent = Decimal(1).scaleb(-minor_units(order.currency))
        value_now = returned_value(order.lines, ret.quantities).quantize(exponent)
        value_so_far = returned_value(order.lines, so_far)
        spend_now = spend_returned(
            order.subtotal,
            order.program_subtotal,
            order.program_currency,
            returned_value(order.lines, before),
            value_so_far,
        )
        earned = await session.returns.earned_by_order(order.id)
        due = points_to_reverse(
            {part.rule_id: part.points for part in earned},
            await session.returns.reversed_by_rule(order.id),
            order.subtotal,
            value_so_far,
        )
        balance = Balance(customer.points_available, customer.points_pending, customer.lifetime_earned)
        entries, unrecovered = reversal_entries(earned, due, balance, f"Return {ret.external_id}")
        reversed_points = -sum(e.points for e in entries)
        await session.returns.insert_return(order.id, ret, value_now, reversed_points, unrecovered, now)
        balance = await session.customers.apply_entries(
            customer,
            entries,
            now=now,
            order=order.id,
            source=f"return:{ret.external_id}",
            tier=customer.tier,
            spend=-spend_now,
        )
        if value_so_far >= order.subtotal:
            await session.returns.give_back_uses(order.id, customer.id, now)
            # Coupon codes of redemptions come back too, usable on another order.
            await session.redemptions.give_back_codes(order.id)
        if reversed_points:
            await session.customers.add_events(
                [
                    (
                        POINTS_REVERSED,
                        order.customer_external_id,
                        {
                            "orderExternalId": order.external_id,
                            "returnExternalId": ret.external_id,
                            "points": reversed_points,
                            "unrecovered": unrecovered,
                            "balanceAfter": balance_payload(balance),
                        },
                    )
                ],
                now,
            )
        if value_so_far >= order.subtotal:
            # After the return's own event, whose balance it then moves on from.
            await take_back_referral(session, order.id, order.external_id, customer, now)
    stored = StoredReturn(
        ret.external_id, order.external_id, order.currency, value_now, reversed_points, ret.request_hash, unrecovered
    )
    ledger_written("return", len(entries))
    return ReturnResult(stored, replayed=False)


def _replay(existing: StoredReturn, ret: ValidReturn) -> ReturnResult:
    if existing.request_hash != ret.request_hash or existing.order_external_id != ret.order_external_id:
        raise conflict("Return", ret.external_id)
    return ReturnResult(existing, replayed=True)
