"""Customers: who they are, and the enrolment input a store sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    attributes: Mapping[str, object] = field(default_factory=dict)
    """Custom attributes; checked against the rule files' declarations by the service."""


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
    attributes: Mapping[str, object] = field(default_factory=dict)

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
            attributes=self.attributes,
        )


AttributeProblems = Sequence[tuple[str, str]]
"""(attribute name, what is wrong), as the rules version in force judges the values."""


def _attribute_errors(problems: AttributeProblems) -> list[DomainError]:
    return [DomainError(ErrorCode.INVALID_ATTRIBUTE, message, ["attributes", name]) for name, message in problems]


def validate_enrollment(
    data: EnrollmentInput, today: date, attribute_problems: AttributeProblems = ()
) -> EnrollmentInput:
    problems = validation.Problems()
    check, errors = problems.check, problems.errors
    check(validation.external_id, data.external_id, ["external_id"])
    email = check(validation.email, data.email, ["email"])
    name = check(validation.text, data.name, ["name"], 200)
    referral = check(validation.text, data.referral_code, ["referral_code"], 64)
    referral = normalise_code(referral) if referral else None
    tags = problems.texts(data.tags, ["tags"], 64)
    if data.birthday and not date(1900, 1, 1) <= data.birthday <= today:
        errors.append(DomainError(ErrorCode.INVALID, "The birthday must be a past date.", ["birthday"]))
    errors.extend(_attribute_errors(attribute_problems))
    if errors:
        raise DomainErrors(errors)
    return EnrollmentInput(
        external_id=data.external_id,
        email=email or "",
        name=name,
        birthday=data.birthday,
        referral_code=referral,
        tags=tuple(dict.fromkeys(tags)),
        attributes={k: v for k, v in data.attributes.items() if v is not None},
    )


@dataclass(frozen=True)
class CustomerUpdate:
    """What `updateCustomer` changes; None leaves a field as it is. Attributes are merged
    into the stored ones, and an attribute given as None is removed."""

    external_id: str
    email: str | None = None
    name: str | None = None
    tags: tuple[str, ...] | None = None
    attributes: Mapping[str, object] | None = None

    def applied_to(self, attributes: Mapping[str, object]) -> dict[str, object]:
        merged = {**attributes, **(self.attributes or {})}
        return {name: value for name, value in merged.items() if value is not None}


def validate_update(data: CustomerUpdate, attribute_problems: AttributeProblems = ()) -> CustomerUpdate:
    problems = validation.Problems()
    check = problems.check
    check(validation.external_id, data.external_id, ["external_id"])
    email = check(validation.email, data.email, ["email"]) if data.email is not None else None
    name = check(validation.text, data.name, ["name"], 200) if data.name is not None else None
    tags = tuple(dict.fromkeys(problems.texts(data.tags, ["tags"], 64))) if data.tags is not None else None
    problems.errors.extend(_attribute_errors(attribute_problems))
    problems.raise_any()
    return CustomerUpdate(data.external_id, email, name, tags, data.attributes)
