from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api.analytics.types import ProgramMetrics, ProgramMetricsResult
from api.context import Info
from api.errors import user_errors
from api.permissions import any_scope
from app import program_metrics as metrics
from domain.auth import Scope
from domain.errors import DomainError


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(
        description="The program's metrics for the days from..to (both included, UTC); docs/metrics.md has "
        "every formula.",
        permission_classes=[any_scope(Scope.METRICS_READ)],
    )
    async def program_metrics(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from", description="The first day of the range.")],
        to: Annotated[date, strawberry.argument(description="The last day of the range (included).")],
    ) -> ProgramMetricsResult:
        program = info.context.services.program
        try:
            span = metrics.period(from_, to)
        except DomainError as error:
            return ProgramMetricsResult(errors=user_errors(error))
        return ProgramMetricsResult(
            metrics=ProgramMetrics(
                from_=from_, to=to, currency=program.exchange.program_currency, program=program, span=span
            )
        )
