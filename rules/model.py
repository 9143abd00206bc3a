"""The validated content of a rules folder, before it is compiled for durable-rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

ORDER = "order"
EFFECT_KINDS = ("points", "discount", "free_shipping", "suggest")


@dataclass(frozen=True)
class Settings:
    name: str = "Loyalty program"
    currency: str = "EUR"
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)
    """Other accepted currencies: program-currency units per unit of each."""
    max_discount_percent: Decimal | None = None
    max_discount_amount: Decimal | None = None
    pending_days: int = 0
    expires_in_days: int | None = None
    tier_basis: str = "points"
    tier_period: str = "lifetime"
    """lifetime, calendar_year or rolling."""
    tier_rolling_days: int | None = None


@dataclass(frozen=True)
class PointsEffect:
    per_unit: Decimal | None = None
    fixed: int | None = None
    multiply: Decimal | str | None = None
    """A factor, or 'tier' for the customer's tier multiplier."""
    pending_days: int | None = None
    expires_in_days: int | None = None


@dataclass(frozen=True)
class DiscountEffect:
    amount: Decimal | None = None
    percent: Decimal | None = None
    max: Decimal | None = None


@dataclass(frozen=True)
class RuleSpec:
    id: str
    on: str
    kind: str
    """One of EFFECT_KINDS."""
    when: dict[str, Any]
    position: int
    """Order of appearance in the folder (files sorted by path): the last tie-breaker."""
    file: str
    line: int
    col: int
    description: str = ""
    active_from: datetime | None = None
    active_until: datetime | None = None
    """Exclusive."""
    priority: int = 0
    exclusive: bool = False
    group: str = ""
    limit_per_customer: int | None = None
    limit_period: str = "all_time"
    budget_points: int | None = None
    points: PointsEffect | None = None
    discount: DiscountEffect | None = None
    free_shipping_threshold: Decimal | None = None
    suggest: tuple[str, ...] = ()
    needs_customer: bool = False

    @property
    def is_limited(self) -> bool:
        return self.limit_per_customer is not None or self.budget_points is not None

    def active_at(self, now: datetime) -> bool:
        return (self.active_from is None or now >= self.active_from) and (
            self.active_until is None or now < self.active_until
        )


@dataclass
class FolderSpec:
    settings: Settings = field(default_factory=Settings)
    tiers: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    rules: list[RuleSpec] = field(default_factory=list)
