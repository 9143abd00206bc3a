"""Recording orders: evaluate the rules, write the order and its ledger entries at once."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.clock import utcnow
from app.events import earning_events
from app.idempotency import conflict, record_once
from app.limits import evaluate_within_limits, record_applied_uses
from app.metrics import ledger_written
from app.redemptions import coupons_of, plain_coupons, redemption_codes, use_coupons
from app.tier_reviews import tier_after_earning
from app.tracing import span
from domain.errors import DomainError, ErrorCode
from domain.ledger import earn_entries, earned_awards
from domain.money import MAX_LIFETIME_SPEND
from domain.orders import OrderInput, ValidOrder, validate_order
from domain.program import REWARD_TRACE_PREFIX, Evaluation, FreeProduct, UsageSnapshot
from persistence.order_details import OrderDetails
from persistence.repositories import StoredOrder

__all__ = ["OrderDetails", "OrderResult", "StoredOrder", "details", "find_order", "record_order"]
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
    return await record_once(
        lambda: _record(uow, program, order),
        lambda: _find(uow, order.external_id),
        lambda existing: _replay(existing, order),
    )


async def _find(uow: UnitOfWork, external_id: str) -> StoredOrder | None:
    async with uow.reading() as session:
        return await session.customers.find_order(external_id)


async def _record(uow: UnitOfWork, program: Program, order: ValidOrder) -> OrderResult:
    # The common order is one guarded write after one read; an order with redemptions'
    # coupon codes uses them under the customer's lock, and so does one that closes a
    # cart (the abandoned-carts job takes the same lock before the cart's).
    needs_lock = bool(redemption_codes(tuple(order.facts.coupon_codes))) or order.cart_id is not None

    async def attempt(session: Session) -> OrderResult | None:
        if needs_lock:
            session.needs_lock()
        return await _attempt(session, program, order)

    return await uow.guarded(attempt)


async def _attempt(session: Session, program: Program, order: ValidOrder) -> OrderResult | None:
    """None when the guarded write found the customer changed since it was read."""
    now = utcnow()
    field = ["customer_external_id"]
    if session.locked:
        customer_row = await session.customers.lock_customer(order.customer_external_id, field)
    else:
        customer_row = await session.customers.read_customer(order.customer_external_id, field)
    # No look-up for a replay here: the order id's unique index finds it, and a replay
    # (rare) costs a refused statement instead of every order paying a query.
    customer = session.customers.to_customer(customer_row)
    facts = customer.facts()
    redeemed = await coupons_of(session, order, customer.external_id, now) if session.locked else []
    order_facts = plain_coupons(order.converted.facts)
    rewards = [r.reward for r in redeemed]

    def evaluate(usage: UsageSnapshot | None) -> Evaluation:
        with span("rules.evaluate", **{"loyalty.rules_version": program.version}):
            return program.evaluate_order(facts, order_facts, now, usage, rewards, trace=False)

    # Limits and budgets are read and recorded only under the lock.
    limits = await evaluate_within_limits(session, program, customer_row.id, now, evaluate)
    evaluation = limits.evaluation
    free_items = rule_free_items(evaluation)
    if free_items:
        session.needs_lock()  # they are a second write, beside the order's
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
    tier_name = await tier_after_earning(
        session,
        program,
        customer_row.id,
        customer.tier,
        lifetime_points=balance.lifetime_earned,
        lifetime_spend=spend,
        points_added=points,
        spend_added=order.converted.subtotal,
        now=now,
    )
    written = await session.orders.write_order(
        customer_row,
        order,
        entries,
        points=points,
        rules_version=evaluation.rules_version,
        tier=tier_name,
        events=earning_events(
            customer.external_id,
            {"orderExternalId": order.external_id},
            evaluation,
            points,
            customer.tier,
            tier_name,
            balance,
        ),
        now=now,
    )
    if written is None:
        return None
    order_id, stored = written
    if free_items:
        await session.free_items.write_free_items(order_id, free_items)
    if order.cart_id is not None:
        # No such open cart of this customer (never sent, or closed): nothing to close.
        await session.carts.close(order.cart_id, customer_row.id, order_id, now)
    await use_coupons(session, redeemed, order_id, now)
    await record_applied_uses(session, program, customer_row.id, limits, now, order_id=order_id)
    ledger_written("order", len(entries))
    # What the entries record, as a replay reads it back from them.
    return OrderResult(replace(stored, awards=earned_awards(entries), free_items=free_items), points, replayed=False)


def rule_free_items(evaluation: Evaluation) -> tuple[FreeProduct, ...]:
    """The free items rules gave (a redeemed reward's product is the redemption's record)."""
    return tuple(p for p in evaluation.free_products if not p.rule_id.startswith(REWARD_TRACE_PREFIX))


def _replay(existing: StoredOrder, order: ValidOrder) -> OrderResult:
    if existing.request_hash != order.request_hash:
        raise conflict("Order", order.external_id)
    return OrderResult(existing, existing.points_earned, replayed=True)


async def find_order(uow: UnitOfWork, external_id: str) -> StoredOrder | None:
    return await _find(uow, external_id)


async def details(uow: UnitOfWork, external_id: str) -> OrderDetails | None:
    """The order's lines (with their tags) and its shipping country, as recorded."""
    async with uow.reading() as session:
        return await session.order_details.order_details(external_id)
