"""Program analytics (issue 14): the figures a program is judged by, for a date range,
overall and by tier, enrolment cohort or month. The database sums (persistence.analytics);
domain.metrics holds every formula. docs/metrics.md names each figure and its formula."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from app.clock import utcnow
from domain import metrics as f
from domain.errors import DomainError, ErrorCode
from domain.metrics import Period
from domain.money import minor_units, parse_amount
from persistence.analytics import Dimension, Group, RuleFigures
from persistence.unit_of_work import UnitOfWork
from rules import Program

__all__ = ["Dimension", "Metrics", "RuleFigures", "figures", "figures_for", "period", "record_marketing_spend"]


@dataclass(frozen=True)
class Metrics:
    orders: int
    customers: int
    """Customers with at least one order in the period."""
    revenue: Decimal | None
    net_promoter_score: float | None
    respondents: int
    retention_rate: float | None
    churn_rate: float | None
    repeat_purchase_rate: float | None
    purchase_frequency: float | None
    average_order_value: Decimal | None
    historic_lifetime_value: Decimal | None
    predicted_lifetime_value: Decimal | None
    points_earned: int | None
    points_redeemed: int | None
    redemption_rate: float | None
    never_redeemed_share: float | None
    members: int
    new_enrolments: int
    active_member_rate: float | None
    engagement: float | None
    outstanding_points: int | None
    points_liability: Decimal | None


def period(first: date, last: date) -> Period:
    return f.period(first, last)


def _metrics(group: Group, point_value: Decimal | None, cents: Decimal, *, monthly: bool) -> Metrics:
    aov = f.money_ratio(group.revenue, group.orders)
    frequency = f.ratio(group.orders, group.buyers)
    retention = f.ratio(group.retained, group.previous_buyers)
    churn = f.churn_rate(retention)
    outstanding = group.outstanding_points
    return Metrics(
        orders=group.orders,
        customers=group.buyers,
        revenue=None if group.revenue is None else group.revenue.quantize(cents),
        net_promoter_score=f.net_promoter_score(group.promoters, group.detractors, group.respondents),
        respondents=group.respondents,
        retention_rate=retention,
        churn_rate=churn,
        repeat_purchase_rate=f.ratio(group.repeat_buyers, group.buyers),
        purchase_frequency=frequency,
        average_order_value=aov,
        historic_lifetime_value=None if monthly else f.money_ratio(group.lifetime_revenue, group.lifetime_buyers),
        predicted_lifetime_value=f.predicted_lifetime_value(aov, frequency, churn),
        points_earned=group.points_earned,
        points_redeemed=group.points_redeemed,
        redemption_rate=f.ratio(group.points_redeemed, group.points_earned),
        never_redeemed_share=None if monthly else f.ratio(group.never_redeemed, group.members),
        members=group.members,
        new_enrolments=group.new_enrolments,
        active_member_rate=f.ratio(group.active_members, group.members),
        engagement=f.ratio(group.events, group.members),
        outstanding_points=outstanding,
        points_liability=(
            None if outstanding is None or point_value is None else (outstanding * point_value).quantize(cents)
        ),
    )


def program_cents(program: Program) -> Decimal:
    """The program currency's smallest unit: sums of money are given to it."""
    return Decimal(1).scaleb(-minor_units(program.exchange.program_currency))


def point_value(program: Program) -> Decimal | None:
    return f.point_value([(r.points_cost, r.value, r.kind) for r in program.rewards])


async def figures(uow: UnitOfWork, program: Program, span: Period, dimension: Dimension) -> list[tuple[str, Metrics]]:
    """One (key, metrics) per group: for OVERALL a single `all`; for MONTH every month the
    period touches, in order, even months with no data; otherwise the groups with data."""
    return (await figures_for(uow, program, span, [dimension]))[dimension]


async def figures_for(
    uow: UnitOfWork, program: Program, span: Period, dimensions: Sequence[Dimension]
) -> dict[Dimension, list[tuple[str, Metrics]]]:
    """`figures` for several dimensions at once: overall, by tier and by cohort share one
    pass over the orders, events and ledger (what a programMetrics query asking for
    several of them costs)."""
    async with uow.reading() as session:
        found = await session.analytics.groups_for(dimensions, span)
        months = session.analytics.months(span)
        overall = session.analytics.OVERALL_KEY
    value = point_value(program)
    cents = program_cents(program)
    out: dict[Dimension, list[tuple[str, Metrics]]] = {}
    for dimension, groups in found.items():
        if dimension is Dimension.OVERALL:
            keys = [overall]
        elif dimension is Dimension.MONTH:
            keys = months
        else:
            keys = sorted(groups.by_key)
        monthly = dimension is Dimension.MONTH
        out[dimension] = [(key, _metrics(groups.of(key), value, cents, monthly=monthly)) for key in keys]
    return out


async def rules(uow: UnitOfWork, program: Program, span: Period) -> list[RuleFigures]:
    cents = program_cents(program)
    async with uow.reading() as session:
        found = await session.analytics.rule_figures(span)
    return [replace(r, revenue=None if r.revenue is None else r.revenue.quantize(cents)) for r in found]


@dataclass(frozen=True)
class Acquisition:
    marketing_spend: Decimal | None
    new_enrolments: int
    cost: Decimal | None
    """Customer acquisition cost: spend / new enrolments in the period."""


async def acquisition(uow: UnitOfWork, program: Program, span: Period) -> Acquisition:
    async with uow.reading() as session:
        spend = await session.analytics.marketing_spend(span)
        enrolled = await session.analytics.new_enrolments(span)
    spend = None if spend is None else spend.quantize(program_cents(program))
    return Acquisition(spend, enrolled, f.money_ratio(spend, enrolled))


async def record_marketing_spend(uow: UnitOfWork, program: Program, first: date, last: date, amount: str) -> Decimal:
    """Spend for the days first..last, in the program currency; returns the amount."""
    f.period(first, last)  # refuses a range that ends before it starts
    currency = program.exchange.program_currency
    value = parse_amount(amount, currency, ["amount"])
    if value <= 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT, "Marketing spend must be more than 0.", ["amount"])
    async with uow.transaction() as session:
        await session.analytics.record_marketing_spend(first, last, value, currency, utcnow())
    return value
