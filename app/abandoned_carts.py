"""The abandoned-carts job: `cart.abandoned` once for each cart left without an order.

A cart the store updated (`updateCart`) and did not follow with an order naming it within
the rule files' `carts.abandoned_after_hours` is abandoned: the event carries its lines,
its value and the points the order would earn under the rules in force at the run (what a
partner's reminder promises). One statement selects a page of due carts; each is then
evaluated as a dry run and abandoned in a transaction of its own, under its customer's
lock (taken first, as an order closing the cart takes it, so the two never wait on each
other in opposite orders), by an UPDATE guarded on the cart's state and revision: two
runners, or a run killed half-way and run again, abandon it once, and an update that came
after the evaluation keeps it open for a later run to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.cart_updates import line_inputs_of
from app.carts import CartInput, points_to_earn
from app.clock import as_of
from app.events import CART_ABANDONED
from domain.errors import DomainError
from persistence.carts import DueCart
from persistence.unit_of_work import UnitOfWork
from rules import Program

BATCH_SIZE = 200


@dataclass(frozen=True)
class AbandonReport:
    carts: int
    points: int
    """What the abandoned carts would have earned, summed."""


async def abandon_carts(
    uow: UnitOfWork, program: Program, now: datetime, *, batch_size: int = BATCH_SIZE
) -> AbandonReport:
    hours = program.settings.abandoned_cart_hours
    if hours is None:
        return AbandonReport(0, 0)
    now = now.astimezone(UTC)
    cutoff = now - timedelta(hours=hours)
    abandoned = points = 0
    after_id = 0
    while page := await _due(uow, cutoff, after_id, batch_size):
        after_id = page[-1].id
        for cart, to_earn in zip(page, await _points_to_earn(uow, program, page, now), strict=True):
            if await _abandon(uow, program, cart, to_earn, hours, now):
                abandoned += 1
                points += to_earn or 0
    return AbandonReport(abandoned, points)


async def _due(uow: UnitOfWork, cutoff: datetime, after_id: int, limit: int) -> list[DueCart]:
    async with uow.reading() as session:
        return await session.carts.due(cutoff, after_id, limit)


async def _points_to_earn(uow: UnitOfWork, program: Program, page: list[DueCart], now: datetime) -> list[int | None]:
    """What recording each cart as an order would earn now, read on one connection; None
    when the rules in force no longer accept the cart (its currency, say)."""
    earned: list[int | None] = []
    # As of the run's time (`jobs run --at` replays a day): rules' windows and time conditions.
    with as_of(now):
        async with uow.reading() as session:
            for cart in page:
                try:
                    earned.append(
                        await points_to_earn(
                            session,
                            program,
                            CartInput(cart.customer_external_id, cart.currency, line_inputs_of(cart.lines)),
                        )
                    )
                except DomainError:
                    earned.append(None)
    return earned


async def _abandon(
    uow: UnitOfWork, program: Program, cart: DueCart, to_earn: int | None, hours: int, now: datetime
) -> bool:
    async with uow.transaction() as session:
        await session.customers.lock_customer(cart.customer_external_id, ["customer_external_id"])
        if not await session.carts.abandon(cart, now):
            return False
        payload = {
            "cartId": cart.cart_id,
            "currency": cart.currency,
            "lines": cart.lines,
            "value": {"amount": str(cart.subtotal), "currency": cart.currency},
            "pointsToEarn": to_earn,
            "updatedAt": cart.updated_at.isoformat(),
            "abandonedAfterHours": hours,
            "rulesVersion": program.version,
        }
        await session.customers.add_events([(CART_ABANDONED, cart.customer_external_id, payload)], now)
    return True
