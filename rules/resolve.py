"""From the rules durable-rules matched to effects: priority, exclusivity, limits, budgets,
multipliers, the discount cap and free-shipping thresholds.

Order is deterministic: higher `priority` first, then the rule's position in the folder
(files sorted by path, rules in file order). Within a `group` (by default the effect kind:
points, discount, free_shipping, suggest) an exclusive rule applies alone: it is skipped when
a rule ahead of it in the group already applies, and it shuts out every rule after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from domain.program import (
    CustomerFacts,
    Discount,
    FreeProduct,
    FreeShipping,
    OrderFacts,
    PointsAward,
    RedeemedReward,
    RuleTrace,
    Suggestion,
    Tier,
    UsageSnapshot,
)
from rules import counters
from rules.counters import Taken
from rules.lines import LineSums, predicate
from rules.model import RuleSpec, Settings

CENT = Decimal("0.01")
_NO_USAGE = UsageSnapshot()


def floor_points(value: Decimal) -> int:
    """Points are whole: every award rounds down (0.99 points is 0)."""
    return int(value.to_integral_value(ROUND_DOWN))


@dataclass
class Outcome:
    awards: list[PointsAward] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    discounts: list[Discount] = field(default_factory=list)
    free_shipping: FreeShipping | None = None
    free_products: list[FreeProduct] = field(default_factory=list)
    trace: dict[str, RuleTrace] = field(default_factory=dict)
    taken: Taken = field(default_factory=Taken)
    """What the rules applied so far took of limits and budgets (rules/counters.py)."""
    reward_trace: dict[str, RuleTrace] = field(default_factory=dict)
    """Redeemed rewards' coupon codes, by trace id (reward:<id>), after the rules."""
    misses: bool = True
    """Whether to note why a rule or reward did not apply (the trace); False: only what
    applied is noted, and no reason for the others is even written (a large program holds
    back hundreds per order: lower spend steps of exclusive groups...)."""

    def note(self, rule: RuleSpec, applied: bool, reason: str) -> None:
        if applied or self.misses:
            self.trace[rule.id] = RuleTrace(rule.id, applied, reason)
        else:
            self.trace.pop(rule.id, None)

    def miss(self, rule: RuleSpec, reason: str, *values: object) -> None:
        """`note(rule, False, reason.format(*values))`, written only when it is kept."""
        self.note(rule, False, reason.format(*values) if self.misses else "")

    def note_reward(self, reward: RedeemedReward, applied: bool, reason: str) -> None:
        if applied or self.misses:
            self.reward_trace[reward.trace_id] = RuleTrace(reward.trace_id, applied, reason)
        else:
            self.reward_trace.pop(reward.trace_id, None)


def select(
    matched: Iterable[RuleSpec],
    customer: CustomerFacts | None,
    usage: UsageSnapshot | None,
    out: Outcome,
    scopes: Mapping[str, str] | None = None,
) -> list[RuleSpec]:
    """Matched rules that survive limits, budgets and exclusivity, in application order.
    `scopes`: for limits per an event attribute, the event's value by counter key."""
    usage = usage or _NO_USAGE
    taken: dict[str, RuleSpec] = {}
    exclusive_in: dict[str, RuleSpec] = {}
    chosen: list[RuleSpec] = []
    for rule in sorted(matched, key=lambda r: (-r.priority, r.position)):
        if rule.counters:
            why = counters.held_back(rule, customer, usage, out.taken, scopes or {})
            if why is not None:
                out.note(rule, False, why)
                continue
        if rule.group in exclusive_in:
            winner = exclusive_in[rule.group]
            out.miss(rule, "excluded by exclusive rule '{}' (priority {})", winner.id, winner.priority)
            continue
        if rule.exclusive and rule.group in taken:
            first = taken[rule.group]
            out.miss(rule, "exclusive, but rule '{}' (priority {}) applies before it", first.id, first.priority)
            continue
        taken.setdefault(rule.group, rule)
        if rule.exclusive:
            exclusive_in[rule.group] = rule
        out.taken.use(rule)
        chosen.append(rule)
    return chosen


def _value(order: OrderFacts | None, lines: dict | None) -> tuple[Decimal, str]:
    """The money a points or discount effect counts on: the subtotal, or its filtered lines'."""
    if order is None:
        return Decimal(0), "subtotal"
    if lines is None:
        return order.subtotal, "subtotal"
    return LineSums.of(order, lines).value, "matching lines"


def _earning_value(order: OrderFacts | None, lines: dict | None, paid: Decimal | None) -> tuple[Decimal, str]:
    """What per_unit points count on. `paid`: what the order pays after its discounts
    (`earn_on: paid`), which each line shares by its value; None: before discounts."""
    value, what = _value(order, lines)
    if paid is None or order is None or not order.subtotal:
        return value, what
    return value * paid / order.subtotal, f"{what} after discounts"


def apply_points(
    chosen: list[RuleSpec],
    order: OrderFacts | None,
    tier: Tier | None,
    settings: Settings,
    usage: UsageSnapshot | None,
    out: Outcome,
) -> None:
    """Spend points are the per_unit awards; a multiplier with `lines` multiplies what the
    unfiltered per_unit rules give on those lines' value alone."""
    usage = usage or _NO_USAGE
    paid = None
    if settings.earn_on == "paid" and order is not None:
        paid = order.subtotal - sum((d.amount for d in out.discounts), Decimal(0))
    spend_points = 0
    rates: list[Decimal] = []
    later: list[RuleSpec] = []
    for rule in chosen:
        effect = rule.points
        if effect is None:
            continue
        if effect.multiply is not None:
            later.append(rule)
            continue
        if effect.per_unit is not None:
            value, what = _earning_value(order, effect.lines, paid)
            raw = floor_points(value * effect.per_unit)
            shown = value if paid is None else value.quantize(CENT, ROUND_DOWN)
            why = f"{effect.per_unit} per unit of {what} {shown}"
        else:
            raw, why = effect.fixed or 0, "fixed bonus"
        points, capped = counters.points_within(rule, raw, usage, out.taken)
        if effect.per_unit is not None:
            spend_points += points
            if effect.lines is None and points > 0:
                rates.append(effect.per_unit)
        _award(rule, points, why + capped, settings, out)
    for rule in later:
        assert rule.points is not None and rule.points.multiply is not None  # a multiplier rule
        multiply = rule.points.multiply
        if multiply == "tier":
            if tier is None:
                out.note(rule, False, "the customer has no tier")
                continue
            factor, why = tier.multiplier, f"tier {tier.name} x{tier.multiplier}"
        else:
            factor, why = Decimal(multiply), f"x{multiply}"
        base = spend_points
        if rule.points.lines is not None:
            value = _earning_value(order, rule.points.lines, paid)[0]
            base = sum(floor_points(value * rate) for rate in rates)
        raw = floor_points(Decimal(base) * (factor - 1))
        points, capped = counters.points_within(rule, raw, usage, out.taken)
        on = "" if rule.points.lines is None else " of matching lines"
        _award(rule, points, f"{why} on {base} spend points{on}{capped}", settings, out)


def _award(rule: RuleSpec, points: int, why: str, settings: Settings, out: Outcome) -> None:
    if points <= 0:
        out.miss(rule, "earns 0 points ({})", why)
        return
    effect = rule.points
    assert effect is not None  # only points rules are awarded
    pending = effect.pending_days if effect.pending_days is not None else settings.pending_days
    expires = effect.expires_in_days if effect.expires_in_days is not None else settings.expires_in_days
    out.awards.append(PointsAward(rule.id, points, rule.description or why, pending, expires, rule.variant_label))
    out.note(rule, True, f"{points} points: {why}")


def _discount(rule: RuleSpec, order: OrderFacts) -> Decimal:
    """The discount before the per-order cap: never more than the value it counts on."""
    effect = rule.discount
    assert effect is not None  # only discount rules get here
    value = _value(order, effect.lines)[0]
    if effect.fixed_price is not None:  # lines dearer than the price come down to it
        test, price = predicate(effect.lines), effect.fixed_price
        raw = sum(
            (max(line.unit_price - price, Decimal(0)) * line.quantity for line in order.lines if test(line)),
            Decimal(0),
        )
    elif effect.amount is not None:
        raw = effect.amount
    else:
        assert effect.percent is not None  # validation: exactly one of amount, percent, fixed_price
        raw = value * effect.percent / 100
        if effect.max is not None:
            raw = min(raw, effect.max)
    return raw if effect.lines is None else max(Decimal(0), min(raw, value))


def usable_rewards(redeemed: Iterable[RedeemedReward], subtotal: Decimal, out: Outcome) -> list[RedeemedReward]:
    """Redeemed rewards whose minimum order the cart reaches; the others are traced."""
    usable = []
    for reward in redeemed:
        if reward.min_order is not None and subtotal < reward.min_order:
            out.note_reward(reward, False, f"needs an order of at least {reward.min_order}")
        else:
            usable.append(reward)
    return usable


def apply_discounts(
    chosen: list[RuleSpec],
    order: OrderFacts,
    settings: Settings,
    out: Outcome,
    redeemed: Iterable[RedeemedReward] = (),
    usage: UsageSnapshot | None = None,
) -> None:
    """Stacked discounts never exceed the subtotal nor the program's per-order cap.

    Redeemed rewards' discounts come first: the customer paid points for them, so the
    rules' discounts are the ones the cap cuts. A budget in money cuts a discount to what
    it leaves before the cap does."""
    usage = usage or _NO_USAGE
    subtotal = order.subtotal
    cap = subtotal
    if settings.max_discount_percent is not None:
        cap = min(cap, (subtotal * settings.max_discount_percent / 100).quantize(CENT, ROUND_DOWN))
    if settings.max_discount_amount is not None:
        cap = min(cap, settings.max_discount_amount)
    total = Decimal(0)
    for reward in redeemed:
        if reward.kind not in ("fixed_discount", "percentage_discount") or reward.value is None:
            continue
        raw = reward.value if reward.kind == "fixed_discount" else subtotal * reward.value / 100
        amount, why = _within_cap(raw, cap, total)
        if amount <= 0:
            out.note_reward(reward, False, why)
            continue
        total += amount
        out.discounts.append(Discount(reward.trace_id, amount, f"coupon {reward.code}: {why}"))
        out.note_reward(reward, True, why)
    for rule in chosen:
        if rule.free_item is not None:
            total += _free_item(rule, cap - total, usage, out)
            continue
        if rule.discount is None:
            continue
        raw = _discount(rule, order)
        if raw.quantize(CENT, ROUND_DOWN) <= 0 and rule.discount.lines is not None:
            out.note(rule, False, "no matching line to discount (or none above the fixed price)")
            continue
        left, whose = counters.amount_left(rule, usage, out.taken)
        budgeted = False
        if left is not None and raw > left:
            raw, budgeted = left, True
        amount, why = _within_cap(raw, cap, total)
        if amount <= 0:
            out.note(rule, False, why)
            continue
        if budgeted:
            why += f" (capped: {left} left in the budget{whose})"
        counters.take_amount(rule, amount, out.taken)
        total += amount
        assert total <= cap <= subtotal, "stacked discounts exceed the cap"
        out.discounts.append(Discount(rule.id, amount, rule.description or why, rule.variant_label))
        out.note(rule, True, why)


def _free_item(rule: RuleSpec, room: Decimal, usage: UsageSnapshot, out: Outcome) -> Decimal:
    """A free item is whole or nothing: it applies when the per-order discount cap and its
    money budgets leave room for its whole value, which it then takes. Returns that value."""
    item = rule.free_item
    assert item is not None  # only free-item rules get here
    worth = item.worth.quantize(CENT)
    left, whose = counters.amount_left(rule, usage, out.taken)
    if left is not None and left < worth:
        out.miss(rule, "budget leaves {}{}; the free {} is worth {}", left, whose, item.sku, worth)
        return Decimal(0)
    if room < worth:
        out.miss(rule, "per-order discount cap leaves {}; the free {} is worth {}", room, item.sku, worth)
        return Decimal(0)
    counters.take_amount(rule, worth, out.taken)
    out.free_products.append(FreeProduct(item.sku, rule.id, item.quantity, worth))
    out.note(rule, True, f"{item.quantity} x {item.sku} free (worth {worth})")
    return worth


def _within_cap(raw: Decimal, cap: Decimal, total: Decimal) -> tuple[Decimal, str]:
    """The amount a discount gives after those before it (rounded down to the cent), and why."""
    raw = raw.quantize(CENT, ROUND_DOWN)
    amount = min(raw, cap - total).quantize(CENT, ROUND_DOWN)
    if amount <= 0:
        return amount, f"per-order discount cap {cap} already reached"
    capped = f" (capped from {raw} by the per-order cap {cap})" if amount < raw else ""
    return amount, f"{amount} off{capped}"


def apply_redeemed_benefits(redeemed: Iterable[RedeemedReward], out: Outcome) -> None:
    """Free shipping, free products and cashback from redeemed rewards (their discounts
    are applied with the rules', under the cap). Free shipping from a reward is
    unconditional, so it replaces whatever threshold the rules offered."""
    for reward in redeemed:
        if reward.kind == "free_shipping":
            out.free_shipping = FreeShipping(True, Decimal(0), Decimal(0), reward.trace_id)
            out.note_reward(reward, True, f"coupon {reward.code}: free shipping")
        elif reward.kind == "free_product" and reward.sku:
            out.free_products.append(FreeProduct(reward.sku, reward.trace_id))
            out.note_reward(reward, True, f"coupon {reward.code}: one {reward.sku} free")
        elif reward.kind == "cashback":
            out.note_reward(reward, True, f"coupon {reward.code}: {reward.value} cashback, paid by the store")


def apply_free_shipping(chosen: list[RuleSpec], subtotal: Decimal, tier: Tier | None, out: Outcome) -> None:
    """The lowest threshold on offer wins; `remaining` says how far the cart is from it."""
    offers: list[tuple[Decimal, str | None, RuleSpec | None]] = [
        (r.free_shipping_threshold, r.id, r) for r in chosen if r.free_shipping_threshold is not None
    ]
    if tier is not None and tier.free_shipping_threshold is not None:
        offers.append((tier.free_shipping_threshold, f"tier:{tier.name}", None))
    if not offers:
        return
    best = min(offers, key=lambda o: o[0])
    threshold, rule_id, rule = best
    eligible = subtotal >= threshold
    out.free_shipping = FreeShipping(eligible, max(Decimal(0), threshold - subtotal), threshold, rule_id)
    for other_threshold, _, other in offers:
        if other is None:
            continue
        if other is rule:
            reason = f"free shipping from {threshold}" + ("" if eligible else f", {threshold - subtotal} to go")
            out.note(other, eligible, reason)
        else:
            out.miss(other, "a lower threshold applies: {} ({}) vs {}", threshold, rule_id, other_threshold)


def apply_suggestions(chosen: list[RuleSpec], in_cart: set[str], out: Outcome) -> None:
    seen = set(in_cart)
    for rule in chosen:
        new = [sku for sku in rule.suggest if sku not in seen]
        if not rule.suggest:
            continue
        if not new:
            out.note(rule, False, "suggested skus already in the cart or suggested")
            continue
        seen.update(new)
        out.suggestions.extend(Suggestion(sku, rule.id, rule.description) for sku in new)
        out.note(rule, True, f"suggests {', '.join(new)}")
