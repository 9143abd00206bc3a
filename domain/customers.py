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


@dataclass(frozen=True)
class EnrollmentInput:
    external_id: str
    email: str
    name: str | None = None
    birthday: date | None = None
    referral_code: str | None = None
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
            attributes=self.attributes,
        )


AttributeProblems = Sequence[tuple[str, str]]
"""(attribute name, what is wrong), as the rules version in force judges the values."""


class _Checker:
    """Collects every problem of one input, so that all are reported together."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def __call__(self, fn, *args):
        try:
            return fn(*args)
        except DomainError as error:
            self.errors.append(error)
            return None

    def tags(self, given: Sequence[str]) -> tuple[str, ...]:
        tags = [self(validation.text, tag, ["tags", str(index)], 64, True) for index, tag in enumerate(given)]
        return tuple(dict.fromkeys(tag for tag in tags if tag))

    def attributes(self, problems: AttributeProblems) -> None:
        for name, message in problems:
            self.errors.append(DomainError(ErrorCode.INVALID_ATTRIBUTE, message, ["attributes", name]))

    def done(self) -> None:
        if self.errors:
            raise DomainErrors(self.errors)


def validate_enrollment(
    data: EnrollmentInput, today: date, attribute_problems: AttributeProblems = ()
) -> EnrollmentInput:
    check = _Checker()
    check(validation.external_id, data.external_id, ["externalId"])
    email = check(validation.email, data.email, ["email"])
    name = check(validation.text, data.name, ["name"], 200)
    referral = check(validation.text, data.referral_code, ["referralCode"], 64)
    tags = check.tags(data.tags)
    if data.birthday and not date(1900, 1, 1) <= data.birthday <= today:
        check.errors.append(DomainError(ErrorCode.INVALID, "The birthday must be a past date.", ["birthday"]))
    check.attributes(attribute_problems)
    check.done()
    return EnrollmentInput(
        external_id=data.external_id,
        email=email or "",
        name=name,
        birthday=data.birthday,
        referral_code=referral,
        tags=tags,
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
    check = _Checker()
    check(validation.external_id, data.external_id, ["externalId"])
    email = check(validation.email, data.email, ["email"]) if data.email is not None else None
    name = check(validation.text, data.name, ["name"], 200) if data.name is not None else None
    tags = check.tags(data.tags) if data.tags is not None else None
    check.attributes(attribute_problems)
    check.done()
    return CustomerUpdate(data.external_id, email, name, tags, data.attributes)
