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
from functools import cached_property


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
    stock: int | None = None
    """Redemptions the whole program offers (cancelled and expired ones come back); None: unlimited."""
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    """Exclusive. Outside [valid_from, valid_until) the reward cannot be redeemed."""
    expires_in_days: int = 30
    """Days a redemption's coupon code stays usable; unused, its points come back."""


REWARD_TRACE_PREFIX = "reward:"


@dataclass(frozen=True)
class RedeemedReward:
    """What a redemption's coupon code gives an order: the reward as it was when redeemed
    (a later rules version cannot change what the customer paid for)."""

    code: str
    reward_id: str
    kind: str
    value: Decimal | None = None
    sku: str | None = None
    min_order: Decimal | None = None

    @property
    def trace_id(self) -> str:
        """How evaluations name it; rule ids cannot contain ':', so it never collides."""
        return f"{REWARD_TRACE_PREFIX}{self.reward_id}"


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
    attributes: Mapping[str, object] = field(default_factory=dict)
    """Custom attributes (`new_parent`, `due_date`...) as the rule files declare them;
    JSON values (dates as ISO strings)."""
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

    @cached_property
    def subtotal(self) -> Decimal:
        # Computed once: an evaluation reads it for every rule that counts on the subtotal
        # (the facts are frozen, so it cannot go stale).
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
    program_amounts: Mapping[str, Decimal] = field(default_factory=dict)
    """rule id -> discounts the whole program has given under it (for budgets in money)."""
    program_uses: Mapping[str, int] = field(default_factory=dict)
    """rule id -> uses across the whole program (for `limit: {total: N}`).

    In every mapping a campaign's counter is keyed `campaign:<id>`; a limit `per` an event
    attribute counts, in customer_uses, the uses with this event's value."""


@dataclass(frozen=True)
class PointsAward:
    rule_id: str
    points: int
    reason: str
    pending_days: int = 0
    """Days the points stay pending (a return window) before they become available."""
    expires_in_days: int | None = None
    variant: str | None = None
    """`experiment/variant` when the rule belongs to an experiment (for comparing variants)."""


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
    variant: str | None = None


@dataclass(frozen=True)
class FreeProduct:
    sku: str
    rule_id: str
    """reward:<id> for a redeemed reward."""
    quantity: int = 1
    value: Decimal | None = None
    """What the free units are worth, in the program currency (a rule's `free_item`);
    None for a redeemed reward's product."""


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
    free_products: tuple[FreeProduct, ...] = ()
    trace: tuple[RuleTrace, ...] = ()
    variants: Mapping[str, str] = field(default_factory=dict)
    """experiment id -> the customer's variant, for every experiment of the program."""

    @property
    def points(self) -> int:
        return sum(award.points for award in self.awards)

    @property
    def applied_rule_ids(self) -> tuple[str, ...]:
        """Rules that applied (redeemed rewards' coupon codes are traced too, but are no rules)."""
        return tuple(t.rule_id for t in self.trace if t.applied and not t.rule_id.startswith(REWARD_TRACE_PREFIX))
