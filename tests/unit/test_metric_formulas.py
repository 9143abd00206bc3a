"""domain.metrics: the formulas docs/metrics.md writes beside each figure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.errors import DomainError
from domain.metrics import net_promoter_score, period, point_value, predicted_lifetime_value, ratio


def test_nps_is_promoters_less_detractors_over_respondents_times_100():
    # Scores 10, 9, 8, 7, 6, 0: two promoters, two passives, two detractors.
    assert net_promoter_score(promoters=2, detractors=2, respondents=6) == 0
    assert net_promoter_score(promoters=3, detractors=1, respondents=4) == 50
    assert net_promoter_score(promoters=0, detractors=5, respondents=5) == -100


def test_a_figure_without_data_is_none_not_zero():
    assert net_promoter_score(0, 0, 0) is None
    assert ratio(0, 0) is None
    assert ratio(None, 5) is None
    assert ratio(0, 5) == 0.0


def test_predicted_lifetime_value_is_order_value_times_frequency_over_churn():
    assert predicted_lifetime_value(Decimal("60.00"), 2.0, 0.25) == Decimal("480.00")
    assert predicted_lifetime_value(Decimal("60.00"), 2.0, 0.0) is None  # no one churned
    assert predicted_lifetime_value(None, 2.0, 0.5) is None


def test_a_point_is_worth_the_best_fixed_value_reward():
    rewards = [(500, Decimal(5), "fixed_discount"), (1000, Decimal(12), "cashback"), (10, Decimal(50), "percentage")]
    assert point_value(rewards) == Decimal("0.012")
    assert point_value([(100, None, "free_shipping")]) is None


def test_a_period_runs_from_the_first_midnight_to_the_midnight_after_the_last_day():
    span = period(date(2025, 3, 1), date(2025, 3, 31))
    assert (span.start, span.end) == (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    assert span.previous.start == datetime(2025, 1, 29, tzinfo=UTC)
    with pytest.raises(DomainError, match="before"):
        period(date(2025, 3, 2), date(2025, 3, 1))
    with pytest.raises(DomainError, match="at most"):
        period(date(2020, 1, 1), date(2025, 1, 1))
