"""A compiled rules version: rule files in, effects out."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
from rules import customer_fields, engine
from rules.compiler import KEY_PREFIX, MAX_PATHS, condition_terms, describe, index_keys, plan_chunks, referenced_keys
from rules.errors import RuleError, RuleFileErrors
from rules.facts import event_fact, order_fact, order_keys, utc
from rules.lines import FilterFields
from rules.model import ORDER, FolderSpec, RuleSpec, Settings
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
from rules.value_lists import Check


def period_start(period: str, now: datetime) -> datetime | None:
    """Start of the calendar period (UTC) that contains `now`; None for all_time."""
    day = utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return None


_MAX_KEYS = 200
"""Key properties per fact: durable-rules allows 255 properties, the base fact uses ~30."""


class _Chunk:
    def __init__(self, rules: list[tuple[RuleSpec, list[dict]]]) -> None:
        self.rules = [rule for rule, _ in rules]
        try:
            self.ruleset = engine.build([(rule.id, terms) for rule, terms in rules])
        except Exception as exc:  # noqa: BLE001 - re-raised as the culprit rule's error
            raise _culprit(rules, exc) from exc
        # Measured: parsing the per-line objects is over a third of an assertion's cost, and
        # most rulesets never look at them, so they get the fact without `lines`.
        self.needs_lines = any('"lines"' in json.dumps(terms) for _, terms in rules)


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
        self._tiers_by_name = {tier.name: tier for tier in self.tiers}
        self._rewards_by_id = {reward.id: reward for reward in self.rewards}
        self._descriptions = {rule.id: describe(rule) for rule in self.rules}
        # "Did not match" entries are built once (RuleTrace is immutable): per rule, the
        # reason when it is outside its window, when the cart is anonymous, and otherwise.
        self._not_met = {
            rule.id: RuleTrace(rule.id, False, f"conditions not met: {self._descriptions[rule.id]}")
            for rule in self.rules
        }
        self._inactive = {rule.id: RuleTrace(rule.id, False, _inactive_reason(rule)) for rule in self.rules}
        self._anonymous = RuleTrace("", False, "needs a customer (anonymous cart)")
        self._entry_tier = self.tier_for(0, Decimal(0))
        self._conditional = {
            rule.id for rule in self.rules if rule.needs_customer or rule.active_from or rule.active_until
        }
        self._zone = ZoneInfo(self.settings.time_zone)
        self._compile()

    def _compile(self) -> None:
        always: list[tuple[RuleSpec, int]] = []
        indexed: list[tuple[str, RuleSpec, int]] = []
        by_event: dict[str, list[tuple[RuleSpec, int]]] = defaultdict(list)
        terms: dict[str, list[dict]] = {}
        self._checks: dict[str, list[Check]] = {}
        self._positive_keys: set[str] = set()
        self._negative_keys: set[str] = set()
        self._filters: dict[str, dict] = {}
        too_many: list[RuleError] = []
        for rule in self.rules:
            compiled = condition_terms(rule, self.settings.attributes)
            terms[rule.id], paths = compiled.terms, compiled.paths
            if paths > MAX_PATHS:
                message = (
                    f"rule '{rule.id}': its conditions have {paths} alternatives once any/not are written out"
                    f" (at most {MAX_PATHS}); split it into several rules in one exclusive group"
                )
                too_many.append(RuleError(rule.file, rule.line, rule.col, message, rule.id))
            if compiled.checks:
                self._checks[rule.id] = compiled.checks
            self._filters.update(compiled.filters)
            positive, negative = referenced_keys(rule)
            self._positive_keys |= positive
            self._negative_keys |= negative
            keys = index_keys(rule)
            if rule.on != ORDER:
                by_event[rule.on].append((rule, paths))
            elif keys:
                indexed.append((keys[0], rule, paths))
            else:
                always.append((rule, paths))
        if too_many:
            raise RuleFileErrors(too_many)
        self._filter_fields = [FilterFields.of(spec) for spec in self._filters.values()]

        def build(plan: list[tuple[RuleSpec, int]]) -> list[_Chunk]:
            return [_Chunk([(r, terms[r.id]) for r in chunk.rules]) for chunk in plan_chunks(plan)]

        self._order_chunks = build(always)
        self._event_chunks = {on: build(rules) for on, rules in by_event.items()}
        # Rules sharing a trigger stay together, so one key reaches few rulesets.
        indexed.sort(key=lambda item: (item[0], item[1].position))
        self._indexed_chunks = build([(rule, paths) for _, rule, paths in indexed])
        self._index: dict[str, list[int]] = defaultdict(list)
        for number, chunk in enumerate(self._indexed_chunks):
            for rule in chunk.rules:
                for key in index_keys(rule):
                    if not self._index[key] or self._index[key][-1] != number:
                        self._index[key].append(number)
        self._index = dict(self._index)
        self._always_rules = [rule for chunk in self._order_chunks for rule in chunk.rules]
        self._key_rules: dict[str, list[RuleSpec]] = defaultdict(list)
        for chunk in self._indexed_chunks:
            for rule in chunk.rules:
                for key in index_keys(rule):
                    self._key_rules[key].append(rule)
        self._key_rules = dict(self._key_rules)

    # --- the interface the service layer uses ---

    @property
    def ruleset_count(self) -> int:
        """durable-rules rulesets this version compiled to."""
        events = sum(len(chunks) for chunks in self._event_chunks.values())
        return len(self._order_chunks) + len(self._indexed_chunks) + events

    def rule(self, rule_id: str) -> RuleSpec:
        return self._rules_by_id[rule_id]

    def limited_rules(self, now: datetime) -> dict[str, datetime | None]:
        """Rules with a per-customer limit or a budget -> start of their current limit period.

        Budgets always count over the rule's whole life (`UsageSnapshot.program_points`).
        """
        return {
            rule.id: period_start(rule.limit_period, now) if rule.limit_per_customer else None
            for rule in self.rules
            if rule.is_limited
        }

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
        (`period_start(reward.limit_period, now)`)."""
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
    ) -> Evaluation:
        """`redeemed`: rewards whose coupon codes the order carries (the service layer looks
        them up; the rules see only the other coupons)."""
        now = utc(now)
        keys = order_keys(order)
        chunks = list(self._order_chunks)
        for number in self._chunks_for(keys):
            chunks.append(self._indexed_chunks[number])
        fact = order_fact(customer, order, now, self._zone)
        for line_filter in self._filter_fields:
            fact.update(line_filter.fields(order))
        variants = self._customer_fields(fact, customer)
        matched = self._match(chunks, fact, self._key_batches(keys))
        out = Outcome()
        chosen = select(matched, customer, usage, out)
        tier = self._tiers_by_name.get(customer.tier) if customer and customer.tier else None
        subtotal = order.subtotal
        apply_points(chosen, order, tier, self.settings, usage, out)
        rewards = usable_rewards(redeemed, subtotal, out)
        apply_discounts(chosen, order, self.settings, out, rewards)
        # A guest ships as a newly enrolled customer would: the entry tier's threshold.
        apply_free_shipping(chosen, subtotal, tier if customer else self._entry_tier, out)
        apply_redeemed_benefits(rewards, out)
        apply_suggestions(chosen, {line.sku for line in order.lines}, out)
        return self._evaluation(out, self._considered(keys), customer, now, variants)

    def evaluate_event(
        self,
        customer: CustomerFacts,
        event: EventFacts,
        now: datetime,
        usage: UsageSnapshot | None = None,
    ) -> Evaluation:
        now = utc(now)
        chunks = self._event_chunks.get(event.type, [])
        fact = event_fact(customer, event, now, self._zone)
        variants = self._customer_fields(fact, customer)
        matched = self._match(chunks, fact)
        out = Outcome()
        chosen = select(matched, customer, usage, out)
        tier = self._tiers_by_name.get(customer.tier) if customer.tier else None
        apply_points(chosen, None, tier, self.settings, usage, out)
        considered = [rule for chunk in chunks for rule in chunk.rules]
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

    def _chunks_for(self, keys: set[str]) -> list[int]:
        numbers: set[int] = set()
        index = self._index
        for key in keys:
            numbers.update(index.get(key, ()))
        return sorted(numbers)

    def _key_batches(self, keys: set[str]) -> list[dict[str, int]]:
        """The cart's key properties that some rule tests, in facts small enough for
        durable-rules (at most 255 properties per object, error 302).

        A huge cart is split: each batch carries every no_line key (a rule must see all of
        them) and a share of the any_line keys; a rule tests at most one any_line key, so the
        union of the batches' matches is exactly the matches of the whole cart.
        """
        positive = sorted(f"{KEY_PREFIX}{k}" for k in keys if f"{KEY_PREFIX}{k}" in self._positive_keys)
        negative = {f"{KEY_PREFIX}{k}": 1 for k in keys if f"{KEY_PREFIX}{k}" in self._negative_keys}
        room = _MAX_KEYS - len(negative)
        if room <= 0:
            raise ValueError(f"cart too large: {len(negative)} distinct skus/categories/tags tested by no_line")
        if len(positive) <= room:
            return [{**negative, **dict.fromkeys(positive, 1)}]
        return [{**negative, **dict.fromkeys(positive[i : i + room], 1)} for i in range(0, len(positive), room)]

    def _considered(self, keys: set[str]) -> list[RuleSpec]:
        """Rules the trace reports: every unindexed order rule, and the indexed rules whose
        sku, category or tag is in the cart (not their ruleset neighbours)."""
        found: dict[str, RuleSpec] = {}
        for key in keys:
            for rule in self._key_rules.get(key, ()):
                found.setdefault(rule.id, rule)
        return self._always_rules + sorted(found.values(), key=lambda rule: rule.position)

    def _match(self, chunks: list[_Chunk], fact: dict, batches: list[dict[str, int]] | None = None) -> list[RuleSpec]:
        matched: dict[str, RuleSpec] = {}
        if not chunks:
            return []
        # Only the encodings some chunk reads: encoding the fact is a third of this.
        texts: dict[bool, list[str]] = {}
        for with_lines in {chunk.needs_lines for chunk in chunks}:
            base = fact if with_lines else {name: value for name, value in fact.items() if name != "lines"}
            texts[with_lines] = [engine.fact_json({**base, **batch}) for batch in batches or [{}]]
        by_id = self._rules_by_id
        with engine.LOCK:
            engine.free_released()
            for chunk in chunks:
                for text in texts[chunk.needs_lines]:
                    for rule_id in chunk.ruleset.matches(text):
                        matched.setdefault(rule_id, by_id[rule_id])
        checks = self._checks
        if checks:
            return [rule for rule_id, rule in matched.items() if all(c(fact) for c in checks.get(rule_id, ()))]
        return list(matched.values())

    def _evaluation(
        self,
        out: Outcome,
        considered: list[RuleSpec],
        customer: CustomerFacts | None,
        now: datetime,
        variants: dict[str, str],
    ) -> Evaluation:
        trace: list[RuleTrace] = []
        noted, not_met, conditional = out.trace, self._not_met, self._conditional
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


def _inactive_reason(rule: RuleSpec) -> str:
    start = rule.active_from.isoformat() if rule.active_from else "always"
    end = rule.active_until.isoformat() if rule.active_until else "open-ended"
    return f"not active now (active from {start} until {end})"


def _culprit(rules: list[tuple[RuleSpec, list[dict]]], exc: Exception) -> RuleFileErrors:
    """durable-rules refused a ruleset: find the rule it refuses alone, and point at it."""
    for rule, terms in rules:
        try:
            engine.build([(rule.id, terms)])
        except Exception as alone:  # noqa: BLE001 - this is the answer
            message = f"rule '{rule.id}': durable-rules cannot compile it ({alone})"
            if "error code: 113" in str(alone):  # measured: ~14 composite alternatives in one $or
                message = (
                    f"rule '{rule.id}': its conditions have too many alternatives once any/not are written out"
                    " for durable-rules (error 113); split it into several rules in one exclusive group"
                )
            return RuleFileErrors([RuleError(rule.file, rule.line, rule.col, message, rule.id)])
    first = rules[0][0]
    message = f"durable-rules cannot compile the rules from '{first.id}' on together ({exc})"
    return RuleFileErrors([RuleError(first.file, first.line, first.col, message, first.id)])
