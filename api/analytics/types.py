"""GraphQL shapes of the program's metrics; each figure's formula is in docs/metrics.md."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

from api.context import Info
from api.errors import UserError
from api.scalars import Money
from app import program_metrics as metrics
from domain.metrics import Period
from rules import Program


@strawberry.type(description="A period's figures; a figure with no data behind it is null, never 0.")
class Metrics:
    orders: int = strawberry.field(description="Orders placed in the period.")
    customers: int = strawberry.field(description="Customers with at least one order in the period.")
    revenue: Money | None = strawberry.field(description="Sum of the orders' subtotals, in the program currency.")
    net_promoter_score: float | None = strawberry.field(
        description="(promoters (9-10) - detractors (0-6)) / respondents x 100, from feedback given in the period."
    )
    respondents: int = strawberry.field(description="Customers who gave feedback in the period.")
    retention_rate: float | None = strawberry.field(
        description="Of the customers who bought in the previous period (same length, just before), the share "
        "who bought again in this one (byMonth: the month before)."
    )
    churn_rate: float | None = strawberry.field(description="1 - retentionRate.")
    repeat_purchase_rate: float | None = strawberry.field(
        description="Share of the period's customers with more than one order in it."
    )
    purchase_frequency: float | None = strawberry.field(description="orders / customers.")
    average_order_value: Money | None = strawberry.field(description="revenue / orders.")
    historic_lifetime_value: Money | None = strawberry.field(
        description="Revenue of all orders placed before the period's end / customers who placed them "
        "(null in byMonth)."
    )
    predicted_lifetime_value: Money | None = strawberry.field(
        description="averageOrderValue x purchaseFrequency x expected lifespan (1 / churnRate periods)."
    )
    points_earned: int | None = strawberry.field(description="Points of the period's earn entries.")
    points_redeemed: int | None = strawberry.field(description="Points spent on rewards in the period, less refunds.")
    redemption_rate: float | None = strawberry.field(description="pointsRedeemed / pointsEarned.")
    never_redeemed_share: float | None = strawberry.field(
        description="Share of members (enrolled before the period's end) who never redeemed (null in byMonth)."
    )
    members: int = strawberry.field(description="Customers enrolled before the period's (or month's) end.")
    new_enrolments: int = strawberry.field(description="Customers who enrolled in the period.")
    active_member_rate: float | None = strawberry.field(
        description="Members with an order or an event in the period / members."
    )
    engagement: float | None = strawberry.field(description="Events in the period / members.")
    outstanding_points: int | None = strawberry.field(
        description="Points held (available and pending) at the period's (or month's) end."
    )
    points_liability: Money | None = strawberry.field(
        description="outstandingPoints x the value of a point at the catalogue's best fixed-value reward."
    )

    @classmethod
    def of(cls, m: metrics.Metrics, currency: str) -> Metrics:
        """`currency`: the program's, which every amount of the figures is in."""
        figures: dict[str, Any] = {k: _money(v, currency) if k in _AMOUNTS else v for k, v in vars(m).items()}
        return cls(**figures)


# The figures that are amounts of money (the others are counts, rates and points).
_AMOUNTS = frozenset(
    {"revenue", "average_order_value", "historic_lifetime_value", "predicted_lifetime_value", "points_liability"}
)


def _money(amount: Decimal | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount=amount, currency=currency)


@strawberry.type(description="The figures of one tier, cohort or month.")
class MetricsGroup:
    key: str = strawberry.field(description="The tier's name, the cohort's or the month's YYYY-MM.")
    metrics: Metrics = strawberry.field(description="That group's figures.")


@strawberry.type(description="What one rule gave in the period.")
class RuleMetrics:
    rule_id: str = strawberry.field(description="The rule's id in the rule files.")
    points_awarded: int = strawberry.field(description="Points its earn entries gave, less reversals.")
    customers_reached: int = strawberry.field(description="Customers it gave points to.")
    revenue: Money | None = strawberry.field(description="Subtotals of the orders the rule fired on.")


@strawberry.type(description="Customer acquisition cost for the period.")
class Acquisition:
    marketing_spend: Money | None = strawberry.field(
        description="Spend recorded (recordMarketingSpend) for periods starting in this one."
    )
    new_enrolments: int = strawberry.field(description="Customers who enrolled in the period.")
    customer_acquisition_cost: Money | None = strawberry.field(description="marketingSpend / newEnrolments.")


async def _groups(info: Info, program: Program, span: Period, dimension: metrics.Dimension) -> list[MetricsGroup]:
    currency = program.exchange.program_currency
    figures = await info.context.metric_groups.load((span, dimension))
    return [MetricsGroup(key=key, metrics=Metrics.of(m, currency)) for key, m in figures]


@strawberry.type(description="Each part is computed only when asked for.")
class ProgramMetrics:
    from_: date = strawberry.field(name="from", description="The first day of the range.")
    to: date = strawberry.field(description="The last day of the range (included).")
    currency: str = strawberry.field(description="The program currency every amount here is in.")
    program: strawberry.Private[Program]
    span: strawberry.Private[Period]

    @strawberry.field(description="The whole range as one period.")
    async def overall(self, info: Info) -> Metrics:
        [group] = await _groups(info, self.program, self.span, metrics.Dimension.OVERALL)
        return group.metrics

    @strawberry.field(description="By the customer's tier now.")
    async def by_tier(self, info: Info) -> list[MetricsGroup]:
        return await _groups(info, self.program, self.span, metrics.Dimension.TIER)

    @strawberry.field(description="By the month the customer enrolled in.")
    async def by_cohort(self, info: Info) -> list[MetricsGroup]:
        return await _groups(info, self.program, self.span, metrics.Dimension.COHORT)

    @strawberry.field(description="Every month the range touches, each its own period.")
    async def by_month(self, info: Info) -> list[MetricsGroup]:
        return await _groups(info, self.program, self.span, metrics.Dimension.MONTH)

    @strawberry.field(description="Per rule that gave points in the period.")
    async def rules(self, info: Info) -> list[RuleMetrics]:
        return [
            RuleMetrics(
                rule_id=r.rule_id,
                points_awarded=r.points,
                customers_reached=r.customers,
                revenue=_money(r.revenue, self.currency),
            )
            for r in await metrics.rules(info.context.services.uow, self.program, self.span)
        ]

    @strawberry.field(description="Marketing spend against new enrolments.")
    async def acquisition(self, info: Info) -> Acquisition:
        a = await metrics.acquisition(info.context.services.uow, self.program, self.span)
        return Acquisition(
            marketing_spend=_money(a.marketing_spend, self.currency),
            new_enrolments=a.new_enrolments,
            customer_acquisition_cost=_money(a.cost, self.currency),
        )


@strawberry.type(description="The metrics, or why the range was refused.")
class ProgramMetricsResult:
    metrics: ProgramMetrics | None = strawberry.field(default=None, description="Null when the range is refused.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Why the range was refused.")


@strawberry.type(description="The spend recorded, or why it was refused.")
class RecordMarketingSpendPayload:
    amount: Money | None = strawberry.field(default=None, description="The amount recorded, in the program currency.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Why nothing was recorded.")
