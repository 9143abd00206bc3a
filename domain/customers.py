"""Customers: who they are, and the enrolment input a store sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain import validation
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.ledger import Balance
from domain.program import CustomerFacts


@dataclass(frozen=True)
class EnrollmentInput:
    external_id: str
    email: str
    name: str | None = None
    birthday: date | None = None
    referral_code: str | None = None
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
        )


def validate_enrollment(data: EnrollmentInput, today: date) -> EnrollmentInput:
    errors: list[DomainError] = []

    def check(fn, *args):
        try:
            return fn(*args)
        except DomainError as error:
            errors.append(error)
            return None

    check(validation.external_id, data.external_id, ["external_id"])
    email = check(validation.email, data.email, ["email"])
    name = check(validation.text, data.name, ["name"], 200)
    referral = check(validation.text, data.referral_code, ["referral_code"], 64)
    tags = []
    for index, tag in enumerate(data.tags):
        value = check(validation.text, tag, ["tags", str(index)], 64, True)
        if value:
            tags.append(value)
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
