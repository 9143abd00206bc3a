from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.customers.types import Customer, Points
from api.errors import UserError, user_errors
from api.permissions import all_scopes, any_scope
from app import customers, reads
from domain import validation
from domain.auth import ApiKeyCaller, Scope
from domain.customers import CustomerUpdate, EnrollmentInput
from domain.errors import DomainError, ErrorCode


@strawberry.input
class EnrollCustomerInput:
    external_id: str
    email: str
    name: str | None = None
    birthday: date | None = None
    referral_code: str | None = strawberry.field(
        default=None,
        description="The code of the customer who referred this one. Given for a customer already"
        " enrolled (and who has not ordered yet), it links the referral instead of refusing.",
    )
    tags: list[str] | None = None
    attributes: JSON | None = strawberry.field(
        default=None, description="Custom attributes the rule files declare (customer_attributes), as a JSON object."
    )


@strawberry.type
class EnrollCustomerPayload:
    customer: Customer | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(description="What to change about an enrolled customer; fields left out stay as they are.")
class UpdateCustomerInput:
    external_id: str = strawberry.field(description="The store's own id for the customer.")
    email: str | None = strawberry.field(default=None, description="A new email address.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    tags: list[str] | None = strawberry.field(default=None, description="Replaces the customer's tags.")
    attributes: JSON | None = strawberry.field(
        default=None,
        description="Merged into the customer's attributes (a JSON object); an attribute set to null is removed.",
    )


@strawberry.type(description="The customer as updated, or why nothing was changed.")
class UpdateCustomerPayload:
    customer: Customer | None = strawberry.field(default=None, description="The customer after the update.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was changed; empty on success."
    )


@strawberry.input
class AdjustPointsInput:
    customer_external_id: str
    points: int = strawberry.field(description="Positive credits, negative debits.")
    reason: str
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Makes the call safe to retry: the same key again answers what the first call"
        " answered and writes nothing; the same key with other content is IDEMPOTENCY_CONFLICT.",
    )
    counts_toward_tier: bool | None = strawberry.field(
        default=False,
        description="Whether these points count toward the customer's tier (and lifetimeEarned) like earned"
        " points: a credit that crosses a threshold raises the tier at once. Default false: a manual"
        " credit (a goodwill gesture) changes the balance only.",
    )


@strawberry.type
class AdjustPointsPayload:
    customer: Customer | None = None
    points: Points | None = strawberry.field(default=None, description="The balance right after the adjustment.")
    replayed: bool = strawberry.field(
        default=False, description="True when this idempotency key was already used: nothing new was written."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class IssueCustomerTokenPayload:
    token: str | None = None
    expires_at: datetime | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerMutations:
    @strawberry.mutation(permission_classes=[any_scope(Scope.CUSTOMERS_WRITE, Scope.ORDERS_WRITE)])
    async def enroll_customer(self, info: Info, input: EnrollCustomerInput) -> EnrollCustomerPayload:
        data = EnrollmentInput(
            external_id=input.external_id,
            email=input.email,
            name=input.name,
            birthday=input.birthday,
            referral_code=input.referral_code,
            tags=tuple(input.tags or ()),
            attributes=input.attributes if isinstance(input.attributes, dict) else {},
        )
        try:
            _object(input.attributes)
            customer = await customers.enroll_customer(info.context.services.uow, info.context.services.program, data)
        except DomainError as error:
            return EnrollCustomerPayload(errors=user_errors(error))
        return EnrollCustomerPayload(customer=Customer.of(customer))

    @strawberry.mutation(
        permission_classes=[any_scope(Scope.CUSTOMERS_WRITE)],
        description="Changes a customer's email, name, tags or custom attributes (customers:write).",
    )
    async def update_customer(
        self,
        info: Info,
        input: Annotated[UpdateCustomerInput, strawberry.argument(description="What to change.")],
    ) -> UpdateCustomerPayload:
        data = CustomerUpdate(
            external_id=input.external_id,
            email=input.email,
            name=input.name,
            tags=tuple(input.tags) if input.tags is not None else None,
            attributes=input.attributes if isinstance(input.attributes, dict) else None,
        )
        try:
            _object(input.attributes)
            customer = await customers.update_customer(info.context.services.uow, info.context.services.program, data)
        except DomainError as error:
            return UpdateCustomerPayload(errors=user_errors(error))
        return UpdateCustomerPayload(customer=Customer.of(customer))

    @strawberry.mutation(
        description="A manual credit or debit, audited with the key that made it.",
        permission_classes=[any_scope(Scope.ADMIN)],
    )
    async def adjust_points(self, info: Info, input: AdjustPointsInput) -> AdjustPointsPayload:
        caller = info.context.caller
        actor = f"api-key:{caller.name}" if isinstance(caller, ApiKeyCaller) else "unknown"
        try:
            result = await customers.adjust_points(
                info.context.services.uow,
                info.context.services.program,
                input.customer_external_id,
                input.points,
                input.reason,
                actor,
                input.idempotency_key,
                counts_toward_tier=bool(input.counts_toward_tier),
            )
        except DomainError as error:
            return AdjustPointsPayload(errors=user_errors(error))
        return AdjustPointsPayload(
            customer=Customer.of(result.customer),
            points=Points.of(result.balance),
            replayed=result.replayed,
        )

    @strawberry.mutation(
        description="A storefront token for one customer (a JWT whose sub is the external id). A token"
        " reads the customer's data, so issuing one needs customers:read as well as customers:write.",
        permission_classes=[all_scopes(Scope.CUSTOMERS_READ, Scope.CUSTOMERS_WRITE)],
    )
    async def issue_customer_token(self, info: Info, customer_external_id: str) -> IssueCustomerTokenPayload:
        try:
            validation.external_id(customer_external_id, ["customerExternalId"])
            await reads.get_customer(info.context.services.uow, customer_external_id)
        except DomainError as error:
            if error.code is ErrorCode.CUSTOMER_NOT_FOUND:
                error.field = ["customer_external_id"]
            return IssueCustomerTokenPayload(errors=user_errors(error))
        issued = info.context.services.tokens.issue(customer_external_id)
        return IssueCustomerTokenPayload(token=issued.token, expires_at=issued.expires_at)


def _object(attributes: object) -> None:
    if attributes is not None and not isinstance(attributes, dict):
        raise DomainError(ErrorCode.INVALID_ATTRIBUTE, "attributes must be a JSON object.", ["attributes"])
