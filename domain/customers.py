"""Customers: who they are, and the enrolment input a store sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain import validation
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.ledger import Balance
from domain.program import CustomerFacts
from domain.referrals import normalise_code


@dataclass(frozen=True)
class EnrollmentInput:
    external_id: str
    email: str
    name: str | None = None
    birthday: date | None = None
    referral_code: str | None = None
    """The code of the customer who referred this one (not this customer's own code)."""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Customer:
    external_id: str
    email: str
    name: str | None
    birthday: date | None
    tier: str | None
    balance: Balance
    lifetime_spend: Decimal
    order_count: int
    last_order_at: datetime | None
    enrolled_at: datetime
    tags: tuple[str, ...] = ()
    referral_code: str | None = None
    """The customer's own code, for friends to give at enrolment."""
    referred: bool = False
    """Whether another customer referred this one."""

    def facts(self) -> CustomerFacts:
        return CustomerFacts(
            external_id=self.external_id,
            tier=self.tier,
            tags=frozenset(self.tags),
            lifetime_points=self.balance.lifetime_earned,
            lifetime_spend=self.lifetime_spend,
            order_count=self.order_count,
            last_order_at=self.last_order_at,
            birthday=self.birthday,
            enrolled_at=self.enrolled_at,
            referred=self.referred,
        )


def validate_enrollment(data: EnrollmentInput, today: date) -> EnrollmentInput:
    problems = validation.Problems()
    check, errors = problems.check, problems.errors
    check(validation.external_id, data.external_id, ["externalId"])
    email = check(validation.email, data.email, ["email"])
    name = check(validation.text, data.name, ["name"], 200)
    referral = check(validation.text, data.referral_code, ["referralCode"], 64)
    referral = normalise_code(referral) if referral else None
    tags = problems.texts(data.tags, ["tags"], 64)
    if data.birthday and not date(1900, 1, 1) <= data.birthday <= today:
        errors.append(
            DomainError(
                ErrorCode.INVALID, "The birthday must be a past date.", ["birthday"]
            )
        )
    if errors:
        raise DomainErrors(errors)
    return EnrollmentInput(
        external_id=data.external_id,
        email=email or "",
        name=name,
        birthday=data.birthday,
        referral_code=referral,
        tags=tuple(dict.fromkeys(tags)),
    )
