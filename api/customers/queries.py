from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry import relay

from api.context import Info
from api.customers.types import Customer
from api.permissions import FORBIDDEN, IsCustomer, may_see_customer
from app import reads
from domain.auth import CustomerCaller
from domain.errors import DomainError


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="A customer, for an API key with customers:read or that customer's token.")
    async def customer(self, info: Info, external_id: str) -> Customer | None:
        if not may_see_customer(info, external_id):
            raise GraphQLError("You may not see this customer.", extensions=dict(FORBIDDEN))
        try:
            return Customer.of(await reads.get_customer(info.context.services.uow, external_id))
        except DomainError:
            return None

    @strawberry.field(
        description="Any object with an id (Customer, LedgerEntry), by that id, for clients' caches"
        " (Relay's refetch); null when it does not exist or the caller may not see it."
    )
    async def node(
        self, info: Info, id: Annotated[relay.GlobalID, strawberry.argument(description="The object's id.")]
    ) -> relay.Node | None:
        # A resolver rather than relay.node(): that field's extension rewrites the field
        # in place, so a second schema built in one process (tests, workers) fails.
        return await id.resolve_node(info, required=False)

    @strawberry.field(description="The customer whose token is presented.", permission_classes=[IsCustomer])
    async def me(self, info: Info) -> Customer | None:
        caller = info.context.caller
        assert isinstance(caller, CustomerCaller)
        try:
            return Customer.of(await reads.get_customer(info.context.services.uow, caller.external_id))
        except DomainError:
            return None
