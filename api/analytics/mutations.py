from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api.analytics.types import RecordMarketingSpendPayload
from api.context import Info
from api.errors import user_errors
from api.permissions import any_scope
from api.scalars import Money
from app import program_metrics as metrics
from domain.auth import Scope
from domain.errors import DomainError


@strawberry.input(description="Marketing spend over a range of days.")
class RecordMarketingSpendInput:
    from_: date = strawberry.field(name="from", description="The first day the spend covers.")
    to: date = strawberry.field(description="The last day the spend covers (included).")
    amount: str = strawberry.field(description='In the program currency, e.g. "1200.00".')


@strawberry.type
class AnalyticsMutations:
    @strawberry.mutation(
        description="Records marketing spend for the days from..to, for the customer acquisition cost.",
        permission_classes=[any_scope(Scope.ADMIN)],
    )
    async def record_marketing_spend(
        self,
        info: Info,
        input: Annotated[RecordMarketingSpendInput, strawberry.argument(description="The spend and its days.")],
    ) -> RecordMarketingSpendPayload:
        try:
            services = info.context.services
            amount = await metrics.record_marketing_spend(
                services.uow, services.program, input.from_, input.to, input.amount
            )
        except DomainError as error:
            return RecordMarketingSpendPayload(errors=user_errors(error))
        return RecordMarketingSpendPayload(
            amount=Money(amount=amount, currency=services.program.exchange.program_currency)
        )
