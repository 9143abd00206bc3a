"""Recording returns: take back what the returned part earned, once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.clock import utcnow
from app.events import POINTS_REVERSED
from app.idempotency import conflict, record_once
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance, Bucket, EntryKind, NewEntry
from domain.money import minor_units
from domain.returns import (
    ReturnInput,
    ValidReturn,
    points_to_reverse,
    returned_value,
    spend_returned,
    validate_return,
)
from persistence.returns import EarnedPart, StoredReturn
from persistence.unit_of_work import Session, UnitOfWork


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
        return await session.returns.get(external_id)


async def _record(uow: UnitOfWork, ret: ValidReturn) -> ReturnResult:
    async with uow.transaction() as session:
        return await _record_in(session, ret)


async def _record_in(session: Session, ret: ValidReturn) -> ReturnResult:
    now = utcnow()
    store = session.returns
    order = await store.order(ret.order_external_id)
    if order is None:
        raise DomainError(
            ErrorCode.ORDER_NOT_FOUND,
            f"No order has the external id '{ret.order_external_id}'.",
            ["order_external_id"],
        )
    customer = await session.customers.get_for_change(order.customer_external_id)
    assert customer is not None, "an order's customer is never deleted"
    # Under the customer's lock, returns of one order are serialised: this check and
    # the cumulative figures below cannot race.
    existing = await store.get(ret.external_id)
    if existing is not None:
        return _replay(existing, ret)
    before = await store.returned_before(order)
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
    earned = await store.earned_by(order)
    due = points_to_reverse(
        {part.rule_id: part.points for part in earned},
        await store.reversed_by_rule(order),
        order.subtotal,
        value_so_far,
    )
    entries, unrecovered = _reversal_entries(earned, due, customer.balance, ret)
    reversed_points = -sum(e.points for e in entries)
    await store.add(order, ret, value_now, reversed_points, unrecovered, now)
    await session.ledger.record(
        customer,
        entries,
        now=now,
        order=order.external_id,
        source=f"return:{ret.external_id}",
        tier=customer.tier,
        spend=-spend_now,
    )
    if value_so_far >= order.subtotal:
        await session.limits.give_back(customer, order.external_id, now)
    if reversed_points:
        await session.outbox.add(
            [
                (
                    POINTS_REVERSED,
                    order.customer_external_id,
                    {
                        "orderExternalId": order.external_id,
                        "returnExternalId": ret.external_id,
                        "points": reversed_points,
                        "unrecovered": unrecovered,
                    },
                )
            ],
            now,
        )
    stored = StoredReturn(
        ret.external_id, order.external_id, order.currency, value_now, reversed_points, ret.request_hash, unrecovered
    )
    return ReturnResult(stored, replayed=False)


def _reversal_entries(
    earned: list[EarnedPart], due: dict[str, int], balance: Balance, ret: ValidReturn
) -> tuple[list[NewEntry], int]:
    """Reverse from the bucket the points sit in, never below zero: points already spent
    cannot be taken back, and are reported as unrecovered instead."""
    left = {Bucket.AVAILABLE: balance.available, Bucket.PENDING: balance.pending}
    entries: list[NewEntry] = []
    unrecovered = 0
    for part in earned:
        points = due.pop(part.rule_id, 0)
        if not points:
            continue
        bucket = Bucket.AVAILABLE if part.available else Bucket.PENDING
        take = min(points, left[bucket])
        left[bucket] -= take
        unrecovered += points - take
        if take:
            entries.append(
                NewEntry(
                    EntryKind.REVERSE,
                    bucket,
                    -take,
                    f"Return {ret.external_id}",
                    rule_id=part.rule_id,
                    rules_version=part.rules_version,
                )
            )
    return entries, unrecovered


def _replay(existing: StoredReturn, ret: ValidReturn) -> ReturnResult:
    if existing.request_hash != ret.request_hash or existing.order_external_id != ret.order_external_id:
        raise conflict("Return", ret.external_id)
    return ReturnResult(existing, replayed=True)
