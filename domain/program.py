"""What the rules engine sees (facts) and what it decides (effects).

`rules/` turns rule files into a `Program` that maps facts to an `Evaluation`; the service
layer gathers the facts and turns the effects into ledger entries. Both sides speak only
these types, so the engine can change without the ledger noticing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int
    """Qualifying points (or spend, per `basis`) needed to enter the tier."""
    multiplier: Decimal = Decimal(1)
    basis: str = "points"
    """'points' (lifetime earned points) or 'spend' (lifetime spend)."""
    free_shipping_threshold: Decimal | None = None
    rewards: tuple[str, ...] = ()
    """Reward ids only members of this tier may redeem."""
    period: str = "lifetime"
    """What the threshold counts over: 'lifetime', 'calendar_year' or 'rolling' (see rolling_days)."""
    rolling_days: int | None = None


@dataclass(frozen=True)
class Reward:
    id: str
    name: str
    kind: str
    """fixed_discount, percentage_discount, free_shipping, free_product or cashback."""
    points_cost: int
    value: Decimal | None = None
    sku: str | None = None
    tiers: tuple[str, ...] = ()
    min_order: Decimal | None = None
    limit_per_customer: int | None = None
    limit_period: str = "all_time"
    """Calendar period (UTC) limit_per_customer counts over: day, week, month, year, all_time."""
    description: str = ""


@dataclass(frozen=True)
class CustomerFacts:
    external_id: str
    tier: str | None = None
    tags: frozenset[str] = frozenset()
    lifetime_points: int = 0
    lifetime_spend: Decimal = Decimal(0)
    order_count: int = 0
    last_order_at: datetime | None = None
    birthday: date | None = None
    enrolled_at: datetime | None = None
    referred: bool = False
    """Another customer referred this one (`customer: {referred: true}`)."""


@dataclass(frozen=True)
class LineFacts:
    sku: str
    quantity: int
    unit_price: Decimal
    category: str | None = None
    tags: frozenset[str] = frozenset()

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class OrderFacts:
    currency: str
    lines: tuple[LineFacts, ...]
    shipping_amount: Decimal = Decimal(0)
    coupon_codes: frozenset[str] = frozenset()
    country: str | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class EventFacts:
    type: str
    attributes: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class UsageSnapshot:
    """How much of each limited rule is already used, read by the service layer in the
    same transaction that records the new effects (so limits hold under concurrency)."""

    customer_uses: Mapping[str, int] = field(default_factory=dict)
    """rule id -> times this customer benefited from it in the rule's current period."""
    program_points: Mapping[str, int] = field(default_factory=dict)
    """rule id -> points the whole program has awarded under it (for budgets)."""


@dataclass(frozen=True)
class PointsAward:
    rule_id: str
    points: int
    reason: str
    pending_days: int = 0
    """Days the points stay pending (a return window) before they become available."""
    expires_in_days: int | None = None


@dataclass(frozen=True)
class Suggestion:
    sku: str
    rule_id: str
    reason: str = ""
    learned: bool = False
    """From order history ("bought together"), not from a rule."""


@dataclass(frozen=True)
class FreeShipping:
    eligible: bool
    remaining: Decimal
    """How much more subtotal unlocks free shipping; 0 when eligible."""
    threshold: Decimal | None = None
    rule_id: str | None = None


@dataclass(frozen=True)
class Discount:
    rule_id: str
    amount: Decimal
    reason: str = ""


@dataclass(frozen=True)
class RuleTrace:
    """Why a rule did or did not apply, for dry runs and marketers' debugging."""

    rule_id: str
    applied: bool
    reason: str


@dataclass(frozen=True)
class Evaluation:
    rules_version: str
    awards: tuple[PointsAward, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    free_shipping: FreeShipping | None = None
    discounts: tuple[Discount, ...] = ()
    trace: tuple[RuleTrace, ...] = ()

    @property
    def points(self) -> int:
        return sum(award.points for award in self.awards)

    @property
    def applied_rule_ids(self) -> tuple[str, ...]:
        return tuple(t.rule_id for t in self.trace if t.applied)
