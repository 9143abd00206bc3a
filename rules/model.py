"""The validated content of a rules folder, before it is compiled for durable-rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.expiry import ExpiryPolicy
from domain.tiers import TierReview

ORDER = "order"
EFFECT_KINDS = ("points", "discount", "free_item", "free_shipping", "suggest")


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
    earn_on: str = "subtotal"
    """What per_unit points count: the subtotal before discounts, or what is paid after them."""
    expiry: ExpiryPolicy = field(default_factory=ExpiryPolicy)
    """Per award (expires_in_days) or after inactivity, and the notice before."""
    tier_basis: str = "points"
    tier_period: str = "lifetime"
    """lifetime, calendar_year or rolling."""
    tier_rolling_days: int | None = None
    time_zone: str = "UTC"
    """An IANA zone (zoneinfo): time conditions (weekday, hour, day...) are read in it."""
    attributes: Mapping[str, AttributeType] = field(default_factory=dict)
    """Declared customer attributes, by name."""
    experiments: Mapping[str, Experiment] = field(default_factory=dict)
    campaigns: Mapping[str, Counter] = field(default_factory=dict)
    """Campaigns by id: limits and budgets shared by the rules that name them."""
    tier_review: TierReview | None = None
    """When tiers may go down; None: never."""
    learned: LearnedSuggestions | None = None
    """None: the rule files do not ask for learned suggestions."""
    abandoned_cart_hours: int | None = None
    """`carts: {abandoned_after_hours: N}`: a cart updated and not followed by an order
    within N hours is abandoned (`cart.abandoned`); None: carts are never abandoned."""


ATTRIBUTE_KINDS = ("boolean", "integer", "number", "string", "date")


@dataclass(frozen=True)
class AttributeType:
    """A declared customer attribute: one of ATTRIBUTE_KINDS, or `one_of` a list of strings."""

    name: str
    kind: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Experiment:
    """An A/B split: each customer falls, deterministically, in one variant (shares in %)."""

    id: str
    variants: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class LearnedSuggestions:
    """`learned_suggestions:` in a rule file: "bought together" pairs from order history."""

    min_support: int = 2
    max: int = 3
    exclude_skus: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()

    def allows(self, sku: str, category: str | None) -> bool:
        return sku not in self.exclude_skus and (category is None or category not in self.exclude_categories)


@dataclass(frozen=True)
class PointsEffect:
    lines: dict | None = None
    """A line filter (rules/lines.py): per_unit and multiply count only these lines' value."""
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
    fixed_price: Decimal | None = None
    """Each matching unit sells at this price (needs `lines`)."""
    lines: dict | None = None
    """A line filter: the discount counts on, and is capped by, these lines' value."""


CAMPAIGN_PREFIX = "campaign:"
"""Counter keys of campaigns; rule ids cannot contain ':', so a key never names both."""


@dataclass(frozen=True)
class Counter:
    """One set of limits counted together: a rule's own (key: its id) or a campaign's
    (key: campaign:<id>), whose uses by any of its rules count together."""

    key: str
    per_customer: int | None = None
    period: str = "all_time"
    """The calendar period (UTC) per_customer counts over."""
    per: str | None = None
    """A fact path (`event.order_id`): per_customer counts per value of it."""
    total: int | None = None
    """Uses across the whole program (all customers, all time)."""
    budget_points: int | None = None
    budget_amount: Decimal | None = None
    """Discounts, in the program currency, the whole program may give."""

    @property
    def program_wide(self) -> bool:
        """Counted across customers: its row is locked while a recording decides."""
        return self.total is not None or self.budget_points is not None or self.budget_amount is not None

    @property
    def scope_attribute(self) -> str | None:
        """The event attribute `per` names."""
        return self.per.removeprefix("event.") if self.per else None


@dataclass(frozen=True)
class FreeItemEffect:
    """A product added free: the store adds the line at price 0; its value counts toward
    the per-order discount cap and money budgets as a discount would."""

    sku: str
    value: Decimal
    """One unit's price, in the program currency."""
    quantity: int = 1

    @property
    def worth(self) -> Decimal:
        return self.value * self.quantity


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
    free_item: FreeItemEffect | None = None
    suggest: tuple[str, ...] = ()
    needs_customer: bool = False
    experiment: str | None = None
    variant: str | None = None
    """The rule applies only to customers in this variant of the experiment."""
    campaign: str | None = None
    counters: tuple[Counter, ...] = ()
    """The rule's own limits and budgets, then its campaign's (rules/counters.py)."""

    @property
    def variant_label(self) -> str | None:
        """What every effect of the rule records: `experiment/variant`."""
        return f"{self.experiment}/{self.variant}" if self.experiment else None

    @property
    def is_limited(self) -> bool:
        return bool(self.counters)

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
