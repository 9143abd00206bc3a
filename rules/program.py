"""A compiled rules version: rule files in, effects out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from types import MappingProxyType
from zoneinfo import ZoneInfo

from domain.exchange import ExchangeRates
from domain.program import (
    CustomerFacts,
    Evaluation,
    EventFacts,
    OrderFacts,
    RedeemedReward,
    Reward,
    RuleTrace,
    Tier,
    UsageSnapshot,
)
from domain.rewards import Standing, reasons_not_redeemable
from rules import counters, customer_fields
from rules.compiler import describe, index_keys
from rules.facts import event_fact, order_fact, order_keys, utc
from rules.matcher import Matcher
from rules.model import ORDER, Counter, FolderSpec, RuleSpec, Settings
from rules.resolve import (
    Outcome,
    apply_discounts,
    apply_free_shipping,
    apply_points,
    apply_redeemed_benefits,
    apply_suggestions,
    select,
    usable_rewards,
)

_NEVER = datetime.min.replace(tzinfo=UTC)


def period_start(period: str, now: datetime, zone: tzinfo = UTC) -> datetime | None:
    """Start (in UTC) of the calendar period that contains `now`, its days as `zone` (the
    program's time zone) counts them; None for all_time. A day is not always 24 hours
    (daylight saving): the start is local midnight, resolved on its own date."""
    local = utc(now).astimezone(zone)
    day = local.date()
    if period == "day":
        start = day
    elif period == "week":
        start = day - timedelta(days=day.weekday())
    elif period == "month":
        start = day.replace(day=1)
    elif period == "year":
        start = day.replace(month=1, day=1)
    else:
        return None
    return local_midnight(start, zone)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first moment of `day` in `zone`, in UTC. Midnight itself may not exist where
    clocks go forward at 00:00 (America/Santiago, Asia/Beirut): zoneinfo then reads it
    with the offset before the change, which lands after the gap, on the same day."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


class Program:
    """One rules version. Immutable once built; safe to share between threads and tasks."""

    def __init__(self, spec: FolderSpec, version: str, sources: dict[str, str]) -> None:
        self.version = version
        self.sources = dict(sources)
        self.settings: Settings = spec.settings
        self.exchange = ExchangeRates(spec.settings.currency, spec.settings.exchange_rates)
        self.tiers: tuple[Tier, ...] = tuple(spec.tiers)
        self.rewards: tuple[Reward, ...] = tuple(spec.rewards)
        self.rules: tuple[RuleSpec, ...] = tuple(spec.rules)
        self._rules_by_id = {rule.id: rule for rule in self.rules}
        self.counters: dict[str, Counter] = {each.key: each for rule in self.rules for each in rule.counters}
        self._scoped = {key: each for key, each in self.counters.items() if each.per is not None}
        self.program_wide_keys: tuple[str, ...] = tuple(
            sorted(k for k, each in self.counters.items() if each.program_wide)
        )
        """Budgets and program caps, in key order: every dry run under limits reads them all (a
        realistic 5,000-rule program has about 400; finding and sorting them per request cost
        0.3 ms of CPU)."""
        self._tiers_by_name = {tier.name: tier for tier in self.tiers}
        self._rewards_by_id = {reward.id: reward for reward in self.rewards}
        # "Did not match" entries are built once per rule (RuleTrace is immutable), when a
        # trace first needs them: the reason when it is outside its window, and otherwise.
        self._not_met = _Entries(self._rules_by_id, lambda rule: f"conditions not met: {describe(rule)}")
        self._inactive = _Entries(self._rules_by_id, _inactive_reason)
        self._anonymous = RuleTrace("", False, "needs a customer (anonymous cart)")
        self._entry_tier = self.tier_for(0, Decimal(0))
        self._conditional = {
            rule.id for rule in self.rules if rule.needs_customer or rule.active_from or rule.active_until
        }
        self._zone = ZoneInfo(self.settings.time_zone)
        # (from, until, the answer): limited_rules' answer, for [from, until), one day of the zone
        self._periods: tuple[datetime, datetime, Mapping[str, datetime | None]] = (_NEVER, _NEVER, {})
        self._compile()

    def _compile(self) -> None:
        self._matcher = Matcher(self.rules, dict(self.settings.attributes))
        # What the trace reports (see `_considered`): the order rules that name no sku,
        # category or tag in `any_line`, in folder order, then those the cart's keys name.
        self._always_rules: list[RuleSpec] = []
        self._key_rules: dict[str, list[RuleSpec]] = defaultdict(list)
        self._event_rules: dict[str, list[RuleSpec]] = defaultdict(list)
        for rule in self.rules:
            if rule.on != ORDER:
                self._event_rules[rule.on].append(rule)
                continue
            keys = index_keys(rule)
            if not keys:
                self._always_rules.append(rule)
            for key in keys:
                self._key_rules[key].append(rule)
        self._key_rules, self._event_rules = dict(self._key_rules), dict(self._event_rules)
        # A trace left out (trace=False) keeps the entries of what applied, in the order the
        # whole trace would list them.
        after = len(self._always_rules)
        self._trace_rank = {rule.id: after + rule.position for rule in self.rules}
        self._trace_rank.update((rule.id, rank) for rank, rule in enumerate(self._always_rules))

    # --- the interface the service layer uses ---

    @property
    def ruleset_count(self) -> int:
        """durable-rules rulesets this version compiled to."""
        return self._matcher.ruleset_count

    def rule(self, rule_id: str) -> RuleSpec:
        return self._rules_by_id[rule_id]

    def limited_rules(self, now: datetime) -> Mapping[str, datetime | None]:
        """Rules with a per-customer limit or a budget -> start of their current limit period.

        Budgets and program caps always count over the rule's whole life
        (`UsageSnapshot.program_points`...). Keys are counter keys: rule ids, and
        campaign:<id> for campaigns (their uses by any of their rules count together).
        Every evaluation under limits asks, and a realistic 5,000-rule program has about
        1,100 limited rules: the answer is built once per day of the program's time zone
        (periods start at its midnights) and shared, read-only. Until this day's end it is
        found by two comparisons: the four periods' starts cost more (time zone arithmetic)
        than the rest of reading a dry run's usage.
        """
        since, until, found = self._periods
        if not since <= now < until:  # another day (two tasks may both rebuild it, alike)
            starts = {period: period_start(period, now, self._zone) for period in ("day", "week", "month", "year")}
            found = MappingProxyType(
                {key: starts.get(each.period) if each.per_customer else None for key, each in self.counters.items()}
            )
            today = starts["day"]
            assert today is not None
            # 36 hours on is always within the next local day, whatever daylight saving does.
            tomorrow = period_start("day", today + timedelta(hours=36), self._zone)
            assert tomorrow is not None
            self._periods = (today, tomorrow, found)
        return found

    def counter(self, key: str) -> Counter:
        """A rule's own limits (key: its id) or a campaign's (campaign:<id>)."""
        return self.counters[key]

    def scopes(self, event: EventFacts | None) -> dict[str, str]:
        """Counter key -> the event's value, for limits per an event attribute: the
        service layer counts the customer's uses under that value."""
        return counters.scopes(self._scoped, event) if self._scoped else {}

    @property
    def zone(self) -> tzinfo:
        """The program's time zone (`program.time_zone`): its days are the program's days."""
        return self._zone

    def period_start(self, period: str, now: datetime) -> datetime | None:
        """Start of the limit period (day, week, month, year) containing `now`, in the
        program's time zone."""
        return period_start(period, now, self._zone)

    def reward(self, reward_id: str) -> Reward | None:
        return self._rewards_by_id.get(reward_id)

    def why_not_redeemable(
        self,
        reward_id: str,
        customer: CustomerFacts,
        order_subtotal: Decimal | None = None,
        uses: int = 0,
        now: datetime | None = None,
    ) -> str | None:
        """None when the customer may redeem the reward now, else the first reason (catalogue
        rules only: points and stock are the service layer's; see domain.rewards). `uses`:
        redemptions of it in the reward's current limit period
        (`self.period_start(reward.limit_period, now)`)."""
        reward = self._rewards_by_id.get(reward_id)
        if reward is None:
            return f"unknown reward '{reward_id}'"
        standing = Standing(
            tier=customer.tier, spendable=reward.points_cost, uses=uses, order_subtotal=order_subtotal or Decimal(0)
        )
        reasons = reasons_not_redeemable(reward, standing, utc(now) if now else datetime.now(UTC))
        return reasons[0].message if reasons else None

    def tier_for(self, lifetime_points: int, lifetime_spend: Decimal) -> Tier | None:
        """The highest tier whose threshold the qualifying amount reaches (basis per tier)."""
        best = None
        for tier in self.tiers:
            amount = lifetime_points if tier.basis == "points" else lifetime_spend
            if amount >= tier.threshold:
                best = tier
        return best

    def evaluate_order(
        self,
        customer: CustomerFacts | None,
        order: OrderFacts,
        now: datetime,
        usage: UsageSnapshot | None = None,
        redeemed: Sequence[RedeemedReward] = (),
        *,
        trace: bool = True,
    ) -> Evaluation:
        """`redeemed`: rewards whose coupon codes the order carries (the service layer looks
        them up; the rules see only the other coupons). `trace=False`: the trace keeps only
        the rules (and redeemed rewards' codes) that applied, with their reasons; no entry
        for each rule considered that did not: on a large program those are most of an
        evaluation's cost, for a trace nobody reads. Every other answer is the same."""
        now = utc(now)
        keys = order_keys(order)
        fact = order_fact(customer, order, now, self._zone, lines=self._matcher.reads_lines)
        variants = self._customer_fields(fact, customer)
        matched = self._matcher.match_order(fact, order, keys)
        out = Outcome(misses=trace)
        chosen = select(matched, customer, usage, out)
        tier = self._tiers_by_name.get(customer.tier) if customer and customer.tier else None
        subtotal = order.subtotal
        # Discounts first: points may count what is paid after them (program.points.earn_on).
        rewards = usable_rewards(redeemed, subtotal, out)
        apply_discounts(chosen, order, self.settings, out, rewards, usage)
        apply_points(chosen, order, tier, self.settings, usage, out)
        # A guest ships as a newly enrolled customer would: the entry tier's threshold.
        apply_free_shipping(chosen, subtotal, tier if customer else self._entry_tier, out)
        apply_redeemed_benefits(rewards, out)
        apply_suggestions(chosen, {line.sku for line in order.lines}, out)
        return self._evaluation(out, self._considered(keys) if trace else None, customer, now, variants)

    def evaluate_event(
        self,
        customer: CustomerFacts,
        event: EventFacts,
        now: datetime,
        usage: UsageSnapshot | None = None,
        *,
        trace: bool = True,
    ) -> Evaluation:
        """`trace`: as for `evaluate_order`."""
        now = utc(now)
        fact = event_fact(customer, event, now, self._zone)
        variants = self._customer_fields(fact, customer)
        matched = self._matcher.match_event(event.type, fact)
        out = Outcome(misses=trace)
        chosen = select(matched, customer, usage, out, self.scopes(event))
        tier = self._tiers_by_name.get(customer.tier) if customer.tier else None
        apply_points(chosen, None, tier, self.settings, usage, out)
        considered = self._event_rules.get(event.type, []) if trace else None
        return self._evaluation(out, considered, customer, now, variants)

    def variants_of(self, customer_id: str) -> dict[str, str]:
        """experiment id -> the customer's variant, for every experiment of the program."""
        return customer_fields.variants(self.settings, customer_id)

    def attribute_errors(self, attributes: dict[str, object]) -> list[tuple[str, str]]:
        """(attribute name, what is wrong) for values that do not fit the declarations."""
        return customer_fields.attribute_errors(self.settings, attributes)

    # --- internals ---

    def _customer_fields(self, fact: dict, customer: CustomerFacts | None) -> dict[str, str]:
        """Adds the customer's attributes and experiment variants to the fact; the variants."""
        if customer is None:
            return {}
        variants = self.variants_of(customer.external_id)
        fact.update(customer_fields.fields(self.settings, customer.attributes, variants))
        return variants

    def _considered(self, keys: set[str]) -> list[RuleSpec]:
        """Rules the trace reports: every unindexed order rule, and the indexed rules whose
        sku, category or tag is in the cart (not their ruleset neighbours)."""
        found: dict[str, RuleSpec] = {}
        for key in keys:
            for rule in self._key_rules.get(key, ()):
                found.setdefault(rule.id, rule)
        return self._always_rules + sorted(found.values(), key=lambda rule: rule.position)

    def _evaluation(
        self,
        out: Outcome,
        considered: list[RuleSpec] | None,
        customer: CustomerFacts | None,
        now: datetime,
        variants: dict[str, str],
    ) -> Evaluation:
        """`considered`: the rules the trace reports; None: only those noted (applied)."""
        trace: list[RuleTrace] = []
        noted, not_met, conditional = out.trace, self._not_met, self._conditional
        if considered is None:
            rank = self._trace_rank
            trace = sorted(noted.values(), key=lambda entry: rank[entry.rule_id])
            considered = []
        for rule in considered:
            rule_id = rule.id
            entry = noted.get(rule_id)
            if entry is None:
                entry = not_met[rule_id]
                if rule_id in conditional:
                    if not rule.active_at(now):
                        entry = self._inactive[rule_id]
                    elif rule.needs_customer and customer is None:
                        entry = RuleTrace(rule_id, False, self._anonymous.reason)
            trace.append(entry)
        trace.extend(out.reward_trace.values())
        return Evaluation(
            rules_version=self.version,
            awards=tuple(out.awards),
            suggestions=tuple(out.suggestions),
            free_shipping=out.free_shipping,
            discounts=tuple(out.discounts),
            free_products=tuple(out.free_products),
            trace=tuple(trace),
            variants=variants,
        )

    def __repr__(self) -> str:
        return f"Program(version={self.version!r}, rules={len(self.rules)}, tiers={len(self.tiers)})"


class _Entries(dict[str, RuleTrace]):
    """rule id -> its RuleTrace with the reason `reason(rule)`, made on first use."""

    def __init__(self, rules: dict[str, RuleSpec], reason: Callable[[RuleSpec], str]) -> None:
        super().__init__()
        self.rules = rules
        self.reason = reason

    def __missing__(self, rule_id: str) -> RuleTrace:
        entry = self[rule_id] = RuleTrace(rule_id, False, self.reason(self.rules[rule_id]))
        return entry


def _inactive_reason(rule: RuleSpec) -> str:
    start = rule.active_from.isoformat() if rule.active_from else "always"
    end = rule.active_until.isoformat() if rule.active_until else "open-ended"
    return f"not active now (active from {start} until {end})"
