"""Recording orders: evaluate the rules, write the order and its ledger entries at once."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.clock import utcnow
from app.events import earning_events
from app.idempotency import conflict, record_once
from app.limits import LimitedEvaluation, applied_limited_rule, evaluate_within_limits, record_applied_uses
from app.metrics import ledger_written
from app.redemptions import coupons_of, plain_coupons, redemption_codes, use_coupons
from app.tier_reviews import tier_after_earning
from app.tracing import span
from domain.errors import DomainError, ErrorCode
from domain.ledger import earn_entries, earned_awards
from domain.money import MAX_LIFETIME_SPEND
from domain.orders import OrderInput, ValidOrder, validate_order
from domain.program import Evaluation, UsageSnapshot
from persistence import order_writes, sql
from persistence import repositories as repo
from persistence.repositories import StoredOrder
from rules import Program


@dataclass(frozen=True)
class OrderResult:
    order: StoredOrder
    points_earned: int
    replayed: bool


async def record_order(program: Program, data: OrderInput) -> OrderResult:
    """Idempotent on the order's external id: a replay returns the first result and
    writes nothing; the same id with other content is refused."""
    order = validate_order(data, program.exchange)
    return await record_once(
        lambda: _record(program, order),
        lambda: repo.find_order(order.external_id),
        lambda existing: _replay(existing, order),
    )


# Without the customer's lock, a write whose facts went stale is refused by its guard and
# tried again; after this many, or when limited rules are involved, the lock is taken.
UNLOCKED_TRIES = 2


async def _record(program: Program, order: ValidOrder) -> OrderResult:
    # An order with redemptions' coupon codes uses them under the customer's lock.
    if sql.guarded_writes() and not redemption_codes(tuple(order.facts.coupon_codes)):
        # PostgreSQL: the common order is one guarded statement after one read, with no
        # transaction to open and close around them (a tenth of its CPU, measured).
        for _ in range(UNLOCKED_TRIES):
            result = await _attempt(program, order, locked=False)
            if result is not None:
                return result
    result = await _attempt(program, order, locked=True)
    assert result is not None, "under the customer's lock the guard cannot fail"
    return result


async def _attempt(program: Program, order: ValidOrder, *, locked: bool) -> OrderResult | None:
    """None when the unlocked attempt cannot finish: the customer changed meanwhile, or a
    limited rule applied (limits and budgets are read and recorded only under the lock)."""
    now = utcnow()
    field = ["customerExternalId"]
    # Everything below speaks through persistence.sql, so it can run on the lean connection.
    async with sql.lean_transaction() if locked else sql.lean_connection():
        if locked:
            customer_row = await repo.lock_customer(order.customer_external_id, field)
        else:
            customer_row = await repo.read_customer(order.customer_external_id, field)
        # No look-up for a replay here: the order id's unique index finds it, and a replay
        # (rare) costs a refused statement instead of every order paying a query.
        customer = repo.to_customer(customer_row)
        facts = customer.facts()
        redeemed = await coupons_of(order, customer.external_id, now) if locked else []
        order_facts = plain_coupons(order.converted.facts)
        rewards = [r.reward for r in redeemed]

        def evaluate(usage: UsageSnapshot | None) -> Evaluation:
            with span("rules.evaluate", **{"loyalty.rules_version": program.version}):
                return program.evaluate_order(facts, order_facts, now, usage, rewards, trace=False)

        if locked:
            limits = await evaluate_within_limits(program, customer_row.id, now, evaluate)
        else:
            limits = LimitedEvaluation(evaluate(None))
            if applied_limited_rule(program, limits.evaluation):
                return None
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
        tier_name = await tier_after_earning(
            program,
            customer_row.id,
            customer.tier,
            lifetime_points=balance.lifetime_earned,
            lifetime_spend=spend,
            points_added=points,
            spend_added=order.converted.subtotal,
            now=now,
        )
        written = await order_writes.write_order(
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
        await use_coupons(redeemed, order_id, now)
        await record_applied_uses(customer_row.id, limits, now, order_id=order_id)
    ledger_written("order", len(entries))
    # What the entries record, as a replay reads it back from them.
    return OrderResult(replace(stored, awards=earned_awards(entries)), points, replayed=False)


def _replay(existing: StoredOrder, order: ValidOrder) -> OrderResult:
    if existing.request_hash != order.request_hash:
        raise conflict("Order", order.external_id)
    return OrderResult(existing, existing.points_earned, replayed=True)
