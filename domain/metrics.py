"""The program's figures from their counts and sums: every formula in one place, each
written beside its name in docs/metrics.md. Pure functions; a figure whose inputs hold no
data is None, never 0 (a period without respondents has no NPS, not an NPS of 0)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from domain.errors import DomainError, ErrorCode

# A year of months for byMonth, with room: a longer range is refused, not slowly answered.
MAX_RANGE_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC: from the first day's midnight to the midnight after the last."""

    start: datetime
    end: datetime

    @property
    def previous(self) -> Period:
        """The period of the same length just before: whose customers retention follows."""
        return Period(self.start - (self.end - self.start), self.start)


def period(first: date, last: date) -> Period:
    """The days first..last, both included."""
    if last < first:
        raise DomainError(ErrorCode.INVALID, "`to` is before `from`.", ["to"])
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise DomainError(ErrorCode.INVALID, f"A range is at most {MAX_RANGE_DAYS} days.", ["to"])
    start = datetime.combine(first, time(), UTC)
    return Period(start, datetime.combine(last + timedelta(days=1), time(), UTC))


def ratio(part: int | Decimal | None, whole: int | Decimal | None) -> float | None:
    if part is None or not whole:
        return None
    return float(Decimal(part) / Decimal(whole))


def money_ratio(amount: Decimal | None, count: int | None) -> Decimal | None:
    if amount is None or not count:
        return None
    return (Decimal(amount) / count).quantize(Decimal("0.01"))


def net_promoter_score(promoters: int, detractors: int, respondents: int) -> float | None:
    """(promoters (9-10) - detractors (0-6)) / respondents x 100."""
    if not respondents:
        return None
    return (promoters - detractors) * 100 / respondents


def churn_rate(retention: float | None) -> float | None:
    return None if retention is None else 1 - retention


def predicted_lifetime_value(
    average_order_value: Decimal | None, purchase_frequency: float | None, churn: float | None
) -> Decimal | None:
    """AOV x purchase frequency x expected lifespan, the lifespan being 1 / churn rate
    periods (a customer churns with probability `churn` each period). Per period of the
    range's length; None when no one churned (a lifespan without end) or nothing is known."""
    if average_order_value is None or purchase_frequency is None or not churn:
        return None
    value = average_order_value * Decimal(str(purchase_frequency)) / Decimal(str(churn))
    return value.quantize(Decimal("0.01"))


def point_value(rewards: list[tuple[int, Decimal | None, str]]) -> Decimal | None:
    """What one point is worth at the catalogue's redemption rate: the most any reward with
    a fixed value gives per point (kind fixed_discount or cashback), so that the liability
    is what the program would owe if every point went to its best use. None without such
    a reward."""
    rates = [value / cost for cost, value, kind in rewards if value and cost > 0 and kind in _FIXED_VALUE_KINDS]
    return max(rates) if rates else None


_FIXED_VALUE_KINDS = ("fixed_discount", "cashback")
