from __future__ import annotations

import strawberry
from graphql import GraphQLError

from api.context import Info
from api.customers.types import Customer
from api.permissions import IsCustomer, may_see_customer
from app import reads
from domain.auth import CustomerCaller
from domain.errors import DomainError


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="A customer, for an API key with customers:read or that customer's token.")
    async def customer(self, info: Info, external_id: str) -> Customer | None:
        if not may_see_customer(info, external_id):
            raise GraphQLError("You may not see this customer.", extensions={"code": "PERMISSION_DENIED"})
        try:
            return Customer.of(await reads.get_customer(info.context.services.uow, external_id))
        except DomainError:
            return None

    @strawberry.field(description="The customer whose token is presented.", permission_classes=[IsCustomer])
    async def me(self, info: Info) -> Customer | None:
        caller = info.context.caller
        assert isinstance(caller, CustomerCaller)
        try:
            return Customer.of(await reads.get_customer(info.context.services.uow, caller.external_id))
        except DomainError:
            return None
