"""Recording orders: evaluate the rules, write the order and its ledger entries at once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from app.clock import utcnow
from app.customers import customer_not_found
from app.events import earning_events
from app.idempotency import conflict, record_once
from app.limits import evaluate_within_limits, record_applied_uses
from domain.errors import DomainError, ErrorCode
from domain.ledger import earn_entries, earned_awards
from domain.money import MAX_LIFETIME_SPEND
from domain.orders import OrderInput, ValidOrder, validate_order
from domain.program import Evaluation, UsageSnapshot
from persistence.orders import StoredOrder
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program


@dataclass(frozen=True)
class OrderResult:
    order: StoredOrder
    points_earned: int
    replayed: bool


async def record_order(uow: UnitOfWork, program: Program, data: OrderInput) -> OrderResult:
    """Idempotent on the order's external id: a replay returns the first result and
    writes nothing; the same id with other content is refused."""
    order = validate_order(data, program.exchange)
    now = utcnow()  # once: however many tries it takes, the order is recorded as of now
    return await record_once(
        lambda: uow.guarded(lambda session: _record(session, program, order, now)),
        lambda: find_order(uow, order.external_id),
        lambda existing: _replay(existing, order),
    )


async def find_order(uow: UnitOfWork, external_id: str) -> StoredOrder | None:
    async with uow.reading() as session:
        return await session.orders.get(external_id)


async def _record(session: Session, program: Program, order: ValidOrder, now: datetime) -> OrderResult:
    customer = await session.customers.get_for_change(order.customer_external_id)
    if customer is None:
        raise customer_not_found(order.customer_external_id, "customer_external_id")
    # No look-up for a replay here: the order id's unique index finds it, and a replay
    # (rare) costs a refused statement instead of every order paying a query.
    facts = customer.facts()

    def evaluate(usage: UsageSnapshot | None) -> Evaluation:
        return program.evaluate_order(facts, order.converted.facts, now, usage)

    limits = await evaluate_within_limits(session, program, customer, now, evaluate)
    evaluation = limits.evaluation
    entries = earn_entries(evaluation, now)
    points = sum(e.points for e in entries)
    balance = customer.balance.after(entries)  # refuses points past MAX_POINTS
    spend = customer.lifetime_spend + order.converted.subtotal
    if spend > MAX_LIFETIME_SPEND:
        raise DomainError(
            ErrorCode.INVALID_AMOUNT,
            f"The customer's lifetime spend would pass {MAX_LIFETIME_SPEND:,}, the most it can hold.",
            ["lines"],
        )
    tier = program.tier_for(balance.lifetime_earned, spend)
    tier_name = tier.name if tier else None
    stored = await session.orders.add(
        customer,
        order,
        entries,
        rules_version=evaluation.rules_version,
        tier=tier_name,
        events=earning_events(
            customer.external_id,
            {"orderExternalId": order.external_id},
            evaluation,
            points,
            customer.tier,
            tier_name,
        ),
        now=now,
    )
    await record_applied_uses(session, customer, limits, now, order=order.external_id)
    # What the entries record, as a replay reads it back from them.
    return OrderResult(replace(stored, awards=earned_awards(entries)), points, replayed=False)


def _replay(existing: StoredOrder, order: ValidOrder) -> OrderResult:
    if existing.request_hash != order.request_hash:
        raise conflict("Order", order.external_id)
    return OrderResult(existing, existing.points_earned, replayed=True)
