"""Use cases on customers: enrolment, reading, manual adjustments."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from app.clock import utcnow
from app.events import CUSTOMER_ENROLLED, POINTS_ADJUSTED
from domain import validation
from domain.customers import Customer, EnrollmentInput, validate_enrollment
from domain.errors import DomainError, ErrorCode
from domain.ledger import Balance, adjustment_entry
from persistence.unit_of_work import AlreadyStored, UnitOfWork
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


async def get_customer(uow: UnitOfWork, external_id: str, field: str = "external_id") -> Customer:
    """`field` names the input that carried the id, for the error when there is none."""
    validation.external_id(external_id, [field])
    async with uow.reading() as session:
        customer = await session.customers.get(external_id)
    if customer is None:
        raise customer_not_found(external_id, field)
    return customer


async def adjust_points(
    uow: UnitOfWork, customer_external_id: str, points: int, reason: str, actor: str
) -> tuple[Customer, Balance]:
    validation.external_id(customer_external_id, ["customer_external_id"])
    reason_text = validation.text(reason, ["reason"], 500, required=True) or ""
    now = utcnow()
    async with uow.transaction() as session:
        customer = await session.customers.get_for_change(customer_external_id)
        if customer is None:
            raise customer_not_found(customer_external_id, "customer_external_id")
        entry = adjustment_entry(customer.balance, points, reason_text, now)
        balance = await session.ledger.record(customer, [entry], now=now, source=actor, tier=customer.tier)
        await session.outbox.add(
            [(POINTS_ADJUSTED, customer_external_id, {"points": points, "reason": reason_text, "by": actor})],
            now,
        )
    return replace(customer, balance=balance), balance
