"""Use cases on customers: enrolment, reading, manual adjustments."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from app import referrals
from app.clock import utcnow
from app.events import CUSTOMER_ENROLLED, POINTS_ADJUSTED, TIER_CHANGED, balance_payload
from app.idempotency import conflict, record_once
from app.metrics import ledger_written
from app.reads import get_customer_in
from app.tier_reviews import tier_after_earning
from domain.adjustments import ValidAdjustment, validate_adjustment
from domain.customers import Customer, CustomerUpdate, EnrollmentInput, validate_enrollment, validate_update
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance, adjustment_entry
from domain.referrals import Party, new_referral_code
from persistence.adjustments import StoredAdjustment
from persistence.connections import IntegrityError
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program


async def enroll_customer(uow: UnitOfWork, program: Program, data: EnrollmentInput) -> Customer:
    """Enrols a customer in the entry tier, with a referral code of their own; a
    `referral_code` links them to its owner. Enrolling an enrolled customer again is
    refused, except to give a friend's code the customer did not give at enrolment (see
    `app.referrals`): then the link is made and the customer returned."""
    now = utcnow()
    valid = validate_enrollment(data, now.date(), program.attribute_errors(dict(data.attributes)))
    entry_tier = program.tier_for(0, Decimal(0))
    try:
        async with uow.transaction() as session:
            if await session.customers.find_customer(valid.external_id):
                if valid.referral_code is None:
                    raise _duplicate(valid.external_id)
                friend = await session.customers.lock_customer(valid.external_id, ["external_id"])
                await referrals.link_existing(session, friend, valid.referral_code, now)
                return session.customers.to_customer(friend)
            referrer = None
            if valid.referral_code is not None:
                new = Party(valid.external_id, valid.email, now)
                referrer = await referrals.referrer_for(session, valid.referral_code, new)
            # A clash of new codes (about 40 bits each) would surface as IntegrityError.
            row = await session.customers.insert_customer(
                valid, entry_tier.name if entry_tier else None, now, own_code=new_referral_code()
            )
            if referrer is not None:
                await session.referrals.link(referrer.id, row.id, now)
                row.referred_by_id = referrer.id
            await session.customers.add_events(
                [(CUSTOMER_ENROLLED, valid.external_id, {"email": valid.email, "tier": row.tier})],
                now,
                program.version,
            )
            return session.customers.to_customer(row)
    except IntegrityError:
        # The same new customer enrolled twice at once: one wins (with its referrer).
        raise _duplicate(valid.external_id) from None


async def update_customer(uow: UnitOfWork, program: Program, data: CustomerUpdate) -> Customer:
    """Changes what is given; attributes are checked against the rules version in force."""
    valid = validate_update(data, program.attribute_errors(dict(data.attributes or {})))
    async with uow.transaction() as session:
        row = await session.customers.lock_customer(valid.external_id, ["external_id"])
        await session.customers.update_customer(
            row, email=valid.email, name=valid.name, tags=valid.tags, attributes=valid.applied_to(row.attributes or {})
        )
        return session.customers.to_customer(row)


def _duplicate(external_id: str) -> DomainError:
    return DomainError(
        ErrorCode.ALREADY_EXISTS,
        f"A customer with the external id '{external_id}' is already enrolled.",
        ["external_id"],
    )


@dataclass(frozen=True)
class AdjustmentResult:
    customer: Customer
    balance: Balance
    """The customer's balance right after the adjustment."""
    replayed: bool = False


async def adjust_points(
    uow: UnitOfWork,
    program: Program,
    customer_external_id: str,
    points: int,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
    *,
    counts_toward_tier: bool = False,
) -> AdjustmentResult:
    """With an idempotency key, a retry writes nothing and answers what the first call
    answered (as an order's replay does); the key again with other content is refused."""
    adjustment = validate_adjustment(customer_external_id, points, reason, idempotency_key, counts_toward_tier)
    if adjustment.idempotency_key is None:
        return await _adjust(uow, adjustment, actor, program)
    key = adjustment.idempotency_key
    return await record_once(
        lambda: _adjust(uow, adjustment, actor, program),
        lambda: _find(uow, key),
        lambda existing: _replay(existing, adjustment),
    )


async def _find(uow: UnitOfWork, key: str) -> tuple[StoredAdjustment, Customer] | None:
    async with uow.reading() as session:
        return await _find_adjustment(session, key)


async def _find_adjustment(session: Session, key: str) -> tuple[StoredAdjustment, Customer] | None:
    """The adjustment made with this key, and its customer as they are now."""
    existing = await session.adjustments.find_adjustment(key)
    if existing is None:
        return None
    return existing, await get_customer_in(session, existing.customer_external_id)


async def _adjust(uow: UnitOfWork, adjustment: ValidAdjustment, actor: str, program: Program) -> AdjustmentResult:
    now = utcnow()
    external_id = adjustment.customer_external_id
    async with uow.transaction() as session:
        row = await session.customers.lock_customer(external_id, ["customer_external_id"])
        if adjustment.idempotency_key is not None:
            # Before the balance is checked: a retried debit is answered, not refused.
            existing = await _find_adjustment(session, adjustment.idempotency_key)
            if existing is not None:
                return _replay(existing, adjustment)
        before = Balance(row.points_available, row.points_pending, row.lifetime_earned)
        entry = adjustment_entry(
            before, adjustment.points, adjustment.reason, now, counts_toward_tier=adjustment.counts_toward_tier
        )
        tier = row.tier
        if adjustment.counts_toward_tier:
            # Up at once when the credit crosses a threshold, as an order's points do; a
            # counting debit lowers nothing until the tier's review.
            tier = await tier_after_earning(
                session,
                program,
                row.id,
                row.tier,
                lifetime_points=before.after([entry]).lifetime_earned,
                lifetime_spend=row.lifetime_spend,
                points_added=adjustment.points,
                spend_added=Decimal(0),
                now=now,
            )
        balance = await session.customers.apply_entries(row, [entry], now=now, source=actor, tier=tier)
        if adjustment.idempotency_key is not None:
            await session.adjustments.insert_adjustment(
                adjustment.idempotency_key, row.id, adjustment.request_hash, now
            )
        payload = {
            "points": adjustment.points,
            "reason": adjustment.reason,
            "by": actor,
            "balanceAfter": balance_payload(balance),
        }
        events = [(POINTS_ADJUSTED, external_id, payload)]
        if tier != row.tier:
            change = {"from": row.tier, "to": tier, "reason": "threshold", "rulesVersion": program.version}
            events.append((TIER_CHANGED, external_id, {"adjustmentReason": adjustment.reason, **change}))
        await session.customers.add_events(events, now, program.version)
        customer = replace(session.customers.to_customer(row), balance=balance, tier=tier)
    ledger_written("adjustment", 1)
    return AdjustmentResult(customer, balance)


def _replay(existing: tuple[StoredAdjustment, Customer], adjustment: ValidAdjustment) -> AdjustmentResult:
    stored, customer = existing
    if stored.request_hash != adjustment.request_hash:
        raise conflict("An adjustment", stored.idempotency_key, ["idempotency_key"])
    return AdjustmentResult(customer, stored.balance_after, replayed=True)
