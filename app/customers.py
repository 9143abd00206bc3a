"""Use cases on customers: enrolment, reading, manual adjustments."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from app.clock import utcnow
from app.events import CUSTOMER_ENROLLED, POINTS_ADJUSTED
from app.idempotency import conflict, record_once
from domain.adjustments import ValidAdjustment, validate_adjustment
from domain.customers import Customer, EnrollmentInput, validate_enrollment
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance, adjustment_entry
from persistence.adjustments import StoredAdjustment
from persistence.unit_of_work import AlreadyStored, Session, UnitOfWork
from rules import Program


async def enroll_customer(uow: UnitOfWork, program: Program, data: EnrollmentInput) -> Customer:
    now = utcnow()
    valid = validate_enrollment(data, now.date())
    entry_tier = program.tier_for(0, Decimal(0))
    try:
        async with uow.transaction() as session:
            customer = await session.customers.add(valid, entry_tier.name if entry_tier else None, now)
            await session.outbox.add(
                [(CUSTOMER_ENROLLED, valid.external_id, {"email": valid.email, "tier": customer.tier})], now
            )
    except AlreadyStored:
        raise DomainError(
            ErrorCode.ALREADY_EXISTS,
            f"A customer with the external id '{valid.external_id}' is already enrolled.",
            ["external_id"],
        ) from None
    return customer


def customer_not_found(external_id: str, field: str = "external_id") -> DomainError:
    return DomainError(ErrorCode.CUSTOMER_NOT_FOUND, f"No customer has the external id '{external_id}'.", [field])



@dataclass(frozen=True)
class AdjustmentResult:
    customer: Customer
    balance: Balance
    """The customer's balance right after the adjustment."""
    replayed: bool = False


async def adjust_points(
    uow: UnitOfWork,
    customer_external_id: str,
    points: int,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
) -> AdjustmentResult:
    """With an idempotency key, a retry writes nothing and answers what the first call
    answered (as an order's replay does); the key again with other content is refused."""
    adjustment = validate_adjustment(customer_external_id, points, reason, idempotency_key)
    if adjustment.idempotency_key is None:
        return await _adjust(uow, adjustment, actor)
    key = adjustment.idempotency_key

    async def find() -> tuple[StoredAdjustment, Customer] | None:
        async with uow.reading() as session:
            return await _find_adjustment(session, key)

    return await record_once(
        lambda: _adjust(uow, adjustment, actor),
        find,
        lambda existing: _replay(existing, adjustment),
    )


async def _find_adjustment(session: Session, key: str) -> tuple[StoredAdjustment, Customer] | None:
    """The adjustment made with this key, and its customer as they are now."""
    existing = await session.adjustments.get(key)
    if existing is None:
        return None
    customer = await session.customers.get(existing.customer_external_id)
    assert customer is not None, "customers are never deleted"
    return existing, customer


async def _adjust(uow: UnitOfWork, adjustment: ValidAdjustment, actor: str) -> AdjustmentResult:
    now = utcnow()
    external_id = adjustment.customer_external_id
    async with uow.transaction() as session:
        customer = await session.customers.get_for_change(external_id)
        if customer is None:
            raise customer_not_found(external_id, "customer_external_id")
        if adjustment.idempotency_key is not None:
            # Before the balance is checked: a retried debit is answered, not refused.
            existing = await _find_adjustment(session, adjustment.idempotency_key)
            if existing is not None:
                return _replay(existing, adjustment)
        entry = adjustment_entry(customer.balance, adjustment.points, adjustment.reason, now)
        balance = await session.ledger.record(customer, [entry], now=now, source=actor, tier=customer.tier)
        if adjustment.idempotency_key is not None:
            await session.adjustments.add(adjustment.idempotency_key, customer, adjustment.request_hash, now)
        payload = {"points": adjustment.points, "reason": adjustment.reason, "by": actor}
        await session.outbox.add([(POINTS_ADJUSTED, external_id, payload)], now)
    return AdjustmentResult(replace(customer, balance=balance), balance)


def _replay(existing: tuple[StoredAdjustment, Customer], adjustment: ValidAdjustment) -> AdjustmentResult:
    stored, customer = existing
    if stored.request_hash != adjustment.request_hash:
        raise conflict("An adjustment", stored.idempotency_key, ["idempotency_key"])
    return AdjustmentResult(customer, stored.balance_after, replayed=True)
