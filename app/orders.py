"""Recording orders: evaluate the rules, write the order and its ledger entries at once."""

from __future__ import annotations

from dataclasses import dataclass

from app.clock import utcnow
from app.events import POINTS_EARNED, TIER_CHANGED
from domain.errors import DomainError, ErrorCode
from domain.ledger import earn_entries
from domain.orders import OrderInput, ValidOrder, validate_order
from domain.program import Evaluation
from persistence import repositories as repo
from persistence.repositories import StoredOrder
from rules import Program


@dataclass(frozen=True)
class OrderResult:
    order: StoredOrder
    points_earned: int
    replayed: bool
    evaluation: Evaluation | None = None


async def record_order(program: Program, data: OrderInput) -> OrderResult:
    """Idempotent on the order's external id: a replay returns the first result and
    writes nothing; the same id with other content is refused."""
    order = validate_order(data)
    try:
        return await _record(program, order)
    except repo.IntegrityError:
        # Lost a race on the order id's unique index: the winner's result stands.
        existing = await repo.find_order(order.external_id)
        if existing is None:
            raise
        return _replay(existing, order)


async def _record(program: Program, order: ValidOrder) -> OrderResult:
    now = utcnow()
    async with repo.transaction():
        customer_row = await repo.lock_customer(order.customer_external_id, ["customerExternalId"])
        # No look-up for a replay here: the order id's unique index finds it, and a replay
        # (rare) costs a rolled-back transaction instead of every order paying a query.
        customer = repo.to_customer(customer_row)
        evaluation = program.evaluate_order(customer.facts(), order.facts, now)
        entries = earn_entries(evaluation, now)
        points = sum(e.points for e in entries)
        order_id, stored = await repo.insert_order(
            customer_row, order, points=points, rules_version=evaluation.rules_version, now=now
        )
        balance = customer.balance.after(entries)
        spend = customer.lifetime_spend + order.facts.subtotal
        tier = program.tier_for(balance.lifetime_earned, spend)
        tier_name = tier.name if tier else None
        await repo.apply_entries(
            customer_row,
            entries,
            now=now,
            order=order_id,
            tier=tier_name,
            spend=order.facts.subtotal,
            orders=1,
        )
        events: list[tuple[str, str | None, dict]] = []
        if points:
            events.append(
                (
                    POINTS_EARNED,
                    customer.external_id,
                    {
                        "orderExternalId": order.external_id,
                        "points": points,
                        "rulesVersion": evaluation.rules_version,
                        "rules": [{"ruleId": a.rule_id, "points": a.points} for a in evaluation.awards],
                    },
                )
            )
        if tier_name != customer.tier:
            events.append((TIER_CHANGED, customer.external_id, {"from": customer.tier, "to": tier_name}))
        await repo.add_events(events, now)
    return OrderResult(stored, points, replayed=False, evaluation=evaluation)


def _replay(existing: StoredOrder, order: ValidOrder) -> OrderResult:
    if existing.request_hash != order.request_hash:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            f"Order '{order.external_id}' was already recorded with different content; "
            "an order id can be recorded once (a replay must repeat it exactly).",
            ["externalId"],
        )
    return OrderResult(existing, existing.points_earned, replayed=True)
