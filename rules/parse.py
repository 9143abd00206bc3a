"""Schema-valid rule documents -> a FolderSpec, plus the errors no schema can see:
duplicate ids, unknown tiers and rewards, impossible windows, effects that cannot work."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from domain.expiry import ExpiryPolicy
from domain.money import is_currency
from domain.program import Reward, Tier
from domain.tiers import TierReview
from rules import campaigns, declarations
from rules.errors import RuleError
from rules.model import (
    ORDER,
    DiscountEffect,
    FolderSpec,
    FreeItemEffect,
    LearnedSuggestions,
    PointsEffect,
    RuleSpec,
    Settings,
)
from rules.yamlsource import Document

MAX_RATE = Decimal(10) ** 9
"""The largest exchange rate (what the orders' rate column holds, with 12 decimals)."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_when(text: str) -> tuple[datetime, bool]:
    """A date or date-time string as an aware UTC datetime, and whether it was a bare date."""
    if _DATE.match(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC), True
    value = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC), False


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


class _Parser:
    def __init__(self, docs: list[tuple[Document, set[tuple]]], complete: bool) -> None:
        self.docs = docs
        self.complete = complete
        """False when a file could not be read: what others refer to may be defined there."""
        self.errors: list[RuleError] = []
        self.spec = FolderSpec()

    def err(self, doc: Document, path: tuple, message: str, rule_id: str | None = None, key: str | None = None) -> None:
        self.errors.append(doc.error(path, message, rule_id, key=key))

    def run(self) -> tuple[FolderSpec, list[RuleError]]:
        self._settings()
        tier_nodes = self._tiers()
        reward_ids = self._rewards()
        self._rules()
        if self.complete:
            self._cross_check(tier_nodes, reward_ids)
        self._link_rewards()
        return self.spec, self.errors

    def _items(self, section: str, include_invalid: bool = False):
        """Items of a section; by default only those without schema errors."""
        for doc, bad in self.docs:
            data = doc.data if isinstance(doc.data, dict) else {}
            items = data.get(section)
            for index, item in enumerate(items if isinstance(items, list) else []):
                if (include_invalid or (section, index) not in bad) and isinstance(item, dict):
                    yield doc, (section, index), item, (section, index) not in bad

    def _settings(self) -> None:
        seen: dict[str, Document] = {}
        values: dict[str, Any] = {}
        for doc, bad in self.docs:
            data = doc.data if isinstance(doc.data, dict) else {}
            sections = (
                "program",
                "tier_qualification",
                "exchange_rates",
                "customer_attributes",
                "learned_suggestions",
                "carts",
            )
            for section in sections:
                if section not in data or any(b[:1] == (section,) for b in bad):
                    continue
                if section in seen:
                    self.err(
                        doc, (), f"'{section}' is already set in {seen[section].file}; keep it in one file", key=section
                    )
                    continue
                seen[section] = doc
                values[section] = data[section] or {}
        program = values.get("program", {})
        cap = program.get("max_discount_per_order", {})
        points = program.get("points", {})
        qualification = values.get("tier_qualification", {})
        period = qualification.get("period", "lifetime")
        currency = self._currency(seen.get("program"), program.get("currency", "EUR"))
        time_zone = declarations.time_zone(self, seen.get("program"), program.get("time_zone", "UTC"))
        self.spec.settings = Settings(
            name=program.get("name", "Loyalty program"),
            currency=currency,
            exchange_rates=self._rates(seen.get("exchange_rates"), values.get("exchange_rates", {}), currency),
            max_discount_percent=dec(cap["percent"]) if "percent" in cap else None,
            max_discount_amount=dec(cap["amount"]) if "amount" in cap else None,
            pending_days=points.get("pending_days", 0),
            expires_in_days=points.get("expires_in_days"),
            earn_on=points.get("earn_on", "subtotal"),
            expiry=self._expiry(seen.get("program"), points, _zone(time_zone)),
            tier_basis=qualification.get("basis", "points"),
            tier_period="rolling" if isinstance(period, dict) else period,
            tier_rolling_days=period.get("rolling_days") if isinstance(period, dict) else None,
            time_zone=time_zone,
            attributes=declarations.attributes(values.get("customer_attributes", {})),
            experiments=declarations.experiments(self),
            campaigns=campaigns.campaigns(self),
            tier_review=self._review(seen.get("tier_qualification"), qualification, _zone(time_zone)),
            learned=_learned(values["learned_suggestions"]) if "learned_suggestions" in values else None,
            abandoned_cart_hours=values.get("carts", {}).get("abandoned_after_hours"),
        )

    def _review(self, doc: Document | None, qualification: dict[str, Any], zone: tzinfo) -> TierReview | None:
        """The tier review policy; one that could never lower a tier, or names a day that
        is not in every year, is an error at its line."""
        review = qualification.get("review")
        if doc is None or review is None:
            for key in ("grace_days", "drop_at_most_one_tier"):
                if doc is not None and key in qualification:
                    self.err(doc, ("tier_qualification", key), f"'{key}' needs a 'review' to apply to", key=key)
            return None
        if qualification.get("period", "lifetime") == "lifetime":
            self.err(
                doc,
                ("tier_qualification", "review"),
                "a tier review over a lifetime period never finds a customer below their tier:"
                " set period to calendar_year or {rolling_days: N}",
                key="review",
            )
        grace = qualification.get("grace_days", 0)
        drop_one = qualification.get("drop_at_most_one_tier", False)
        if review == "anniversary":
            return TierReview(anniversary=True, grace_days=grace, drop_at_most_one_tier=drop_one, zone=zone)
        text = review["date"]
        month, day = int(text[:2]), int(text[3:])
        try:
            # 2001 has no February 29: a review date must come every year.
            datetime(2001, month, day)
        except ValueError:
            self.err(
                doc,
                ("tier_qualification", "review", "date"),
                f"review date '{text}' is not a day of every year (MM-DD, e.g. 01-01; February 29 is refused)",
                key="date",
            )
            return None
        return TierReview(
            anniversary=False, month=month, day=day, grace_days=grace, drop_at_most_one_tier=drop_one, zone=zone
        )

    def _expiry(self, doc: Document | None, points: dict[str, Any], zone: tzinfo) -> ExpiryPolicy:
        """The expiry policy: per award or after inactivity, never both; a notice needs a
        policy and must come before the expiry it warns of."""
        inactive = points.get("expires_after_inactive_days")
        notice = points.get("notice_days")
        if doc is None or not all(isinstance(v, int) for v in (inactive or 0, notice or 0)):
            return ExpiryPolicy(zone=zone)  # the schema has said what is wrong
        if inactive is not None and "expires_in_days" in points:
            self.err(
                doc,
                ("program", "points", "expires_after_inactive_days"),
                "choose one expiry policy: expires_in_days (per award) or expires_after_inactive_days"
                " (all points after inactivity), not both",
                key="expires_after_inactive_days",
            )
        days = inactive if inactive is not None else points.get("expires_in_days")
        if notice is not None and days is None:
            self.err(
                doc,
                ("program", "points", "notice_days"),
                "notice_days warns before points expire, but no expiry is set:"
                " add expires_in_days or expires_after_inactive_days",
                key="notice_days",
            )
        elif notice is not None and isinstance(days, int) and notice >= days:
            self.err(
                doc,
                ("program", "points", "notice_days"),
                f"notice_days ({notice}) must be fewer than the {days} days after which points expire",
                key="notice_days",
            )
        return ExpiryPolicy(inactive_days=inactive, notice_days=notice, zone=zone)

    def _currency(self, doc: Document | None, code: str) -> str:
        if doc is not None and not is_currency(code):
            self.err(
                doc,
                ("program", "currency"),
                f"program currency '{code}' is not an ISO 4217 currency code (for example EUR, USD, JPY)",
            )
        return code

    def _rates(self, doc: Document | None, rates: dict[str, Any], currency: str) -> dict[str, Decimal]:
        """The accepted currencies and their rates; they are part of the rule files, so a
        new rate is a new rules version, and every order records the rate it was converted at."""
        accepted: dict[str, Decimal] = {}
        for code, rate in rates.items():
            if doc is None:
                break
            if not is_currency(code):
                self.err(doc, ("exchange_rates",), f"'{code}' is not an ISO 4217 currency code", key=code)
            elif code == currency:
                self.err(doc, ("exchange_rates",), f"'{code}' is the program currency; it needs no rate", key=code)
            elif isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
                continue  # the schema has said so
            elif dec(rate) > MAX_RATE or -dec(rate).as_tuple().exponent > 12:  # type: ignore[operator]
                self.err(
                    doc,
                    ("exchange_rates", code),
                    f"the rate of {code} must be at most {MAX_RATE:,}, with at most 12 decimal places",
                )
            else:
                accepted[code] = dec(rate)
        return accepted

    def _tiers(self) -> dict[str, tuple[Document, tuple]]:
        settings = self.spec.settings
        nodes: dict[str, tuple[Document, tuple]] = {}
        thresholds: dict[int, str] = {}
        for doc, path, item, _ in self._items("tiers"):
            name = item["name"]
            if name in nodes:
                self.err(doc, path + ("name",), f"tier '{name}' is defined twice (also {nodes[name][0].file})")
                continue
            if item["threshold"] in thresholds:
                self.err(
                    doc,
                    path + ("threshold",),
                    f"tier '{name}': threshold {item['threshold']} is also tier '{thresholds[item['threshold']]}''s",
                )
                continue
            nodes[name] = (doc, path)
            thresholds[item["threshold"]] = name
            benefits = item.get("benefits", {})
            fst = benefits.get("free_shipping_threshold")
            self.spec.tiers.append(
                Tier(
                    name=name,
                    threshold=item["threshold"],
                    basis=settings.tier_basis,
                    multiplier=dec(benefits.get("multiplier", 1)),
                    free_shipping_threshold=dec(fst) if fst is not None else None,
                    rewards=tuple(benefits.get("rewards", ())),
                    period=settings.tier_period,
                    rolling_days=settings.tier_rolling_days,
                )
            )
        self.spec.tiers.sort(key=lambda t: t.threshold)
        return nodes

    def _rewards(self) -> dict[str, tuple[Document, tuple]]:
        seen: dict[str, tuple[Document, tuple]] = {}
        for doc, path, item, _ in self._items("rewards"):
            rid, kind = item["id"], item["kind"]
            if rid in seen:
                self.err(doc, path + ("id",), f"reward '{rid}' is defined twice (also {seen[rid][0].file})")
                continue
            seen[rid] = (doc, path)
            value = item.get("value")
            if kind in ("fixed_discount", "percentage_discount", "cashback") and value is None:
                self.err(doc, path, f"reward '{rid}': a {kind} needs a value")
            if kind == "percentage_discount" and value is not None and value > 100:
                self.err(doc, path + ("value",), f"reward '{rid}': a percentage above 100")
            if kind == "free_product" and "sku" not in item:
                self.err(doc, path, f"reward '{rid}': a free_product needs a sku")
            limit = item.get("limit", {})
            valid_from, valid_until = self._window(doc, path + ("valid",), item.get("valid", {}), rid, "reward")
            self.spec.rewards.append(
                Reward(
                    id=rid,
                    name=item["name"],
                    kind=kind,
                    points_cost=item["points_cost"],
                    value=dec(value) if value is not None else None,
                    sku=item.get("sku"),
                    tiers=tuple(item.get("tiers", ())),
                    min_order=dec(item["min_order"]) if "min_order" in item else None,
                    limit_per_customer=limit.get("per_customer"),
                    limit_period=limit.get("period", "all_time"),
                    description=item.get("description", ""),
                    stock=item.get("stock"),
                    valid_from=valid_from,
                    valid_until=valid_until,
                    expires_in_days=item.get("expires_in_days", 30),
                )
            )
        return seen

    def _window(
        self, doc: Document, path: tuple, window: dict, rid: str, what: str = "rule"
    ) -> tuple[datetime | None, datetime | None]:
        start = end = None
        ok = True
        rule_id = rid if what == "rule" else None
        for key in ("from", "until"):
            if key not in window:
                continue
            try:
                value, bare = parse_when(window[key])
            except ValueError:
                self.err(doc, path + (key,), f"{what} '{rid}': {window[key]!r} is not a real date", rule_id)
                ok = False
                continue
            if key == "from":
                start = value
            else:
                end = value + timedelta(days=1) if bare else value
        if ok and start is not None and end is not None and end <= start:
            self.err(
                doc,
                path + ("until",),
                f"{what} '{rid}': the window ends ({window['until']}) before it starts ({window['from']})",
                rule_id,
            )
        return start, end

    def _rules(self) -> None:
        self._duplicate_rule_ids()
        seen: set[str] = set()
        for position, (doc, path, item, valid) in enumerate(self._items("rules", include_invalid=True)):
            rid = item.get("id")
            if not isinstance(rid, str) or rid in seen:
                continue
            seen.add(rid)
            if not valid:
                continue
            rule = self._rule(doc, path, item, position)
            if rule is not None:
                self.spec.rules.append(rule)

    def _duplicate_rule_ids(self) -> None:
        """An error at every copy of a duplicated id, naming the others: which one is the new
        copy only the marketer knows, so each is pointed at."""
        places: dict[str, list[tuple[Document, tuple]]] = {}
        for doc, path, item, _ in self._items("rules", include_invalid=True):
            if isinstance(item.get("id"), str):
                places.setdefault(item["id"], []).append((doc, path + ("id",)))
        for rid, copies in places.items():
            if len(copies) < 2:
                continue
            where = [doc.error(path, "") for doc, path in copies]
            for number, (doc, path) in enumerate(copies):
                others = ", ".join(f"{e.file}:{e.line}" for i, e in enumerate(where) if i != number)
                self.err(doc, path, f"rule '{rid}' is defined {len(copies)} times (also at {others})", rid)

    def _rule(self, doc: Document, path: tuple, item: dict, position: int) -> RuleSpec | None:
        rid, on = item["id"], item.get("on", ORDER)
        when, then = item.get("when", {}), item["then"]
        kind = next(iter(then))
        before = len(self.errors)
        start, end = self._window(doc, path + ("active",), item.get("active", {}), rid)
        if "time" in when and "between" in when["time"]:
            self._window(doc, path + ("when", "time", "between"), when["time"]["between"], rid)
        if on == ORDER and "event" in when:
            self.err(
                doc,
                path + ("when",),
                f"rule '{rid}': event conditions need an event rule (on: <event type>)",
                rid,
                key="event",
            )
        if on != ORDER:
            for section in ("order", "cart"):
                if section in when:
                    self.err(
                        doc,
                        path + ("when",),
                        f"rule '{rid}': {section} conditions only apply to rules on: order",
                        rid,
                        key=section,
                    )
            if kind != "points":
                self.err(doc, path + ("then",), f"rule '{rid}': an event rule can only award points", rid, key=kind)
        declarations.check_when(self, doc, path, item)
        points = discount = threshold = free_item = None
        if kind == "points":
            points = self._points(doc, path + ("then", "points"), then["points"], rid, on)
        elif kind == "discount":
            d = then["discount"]
            if sum(k in d for k in ("amount", "percent", "fixed_price")) != 1:
                self.err(
                    doc,
                    path + ("then", "discount"),
                    f"rule '{rid}': a discount needs exactly one of amount, percent, fixed_price",
                    rid,
                )
            if "max" in d and "percent" not in d:
                self.err(
                    doc, path + ("then", "discount"), f"rule '{rid}': max only caps a percent discount", rid, key="max"
                )
            if "fixed_price" in d and "lines" not in d:
                self.err(
                    doc,
                    path + ("then", "discount"),
                    f"rule '{rid}': a fixed_price needs lines (which items sell at that price)",
                    rid,
                    key="fixed_price",
                )
            amounts = {k: dec(d[k]) for k in ("amount", "percent", "max", "fixed_price") if k in d}
            discount = DiscountEffect(**amounts, lines=d.get("lines"))
        elif kind == "free_item":
            item_spec = then["free_item"]
            free_item = FreeItemEffect(item_spec["sku"], dec(item_spec["value"]), item_spec.get("quantity", 1))
        elif kind == "free_shipping":
            fs = then["free_shipping"]
            threshold = dec(fs.get("threshold", 0)) if isinstance(fs, dict) else Decimal(0)
        counters = campaigns.rule_counters(self, doc, path, item, kind)
        if len(self.errors) > before:
            return None
        limit = item.get("limit", {})
        node = doc.node_at(path)
        experiment = item.get("experiment", {})
        return RuleSpec(
            id=rid,
            on=on,
            kind=kind,
            when=when,
            position=position,
            file=doc.file,
            line=node.start_mark.line + 1 if node else 1,
            col=node.start_mark.column + 1 if node else 1,
            description=item.get("description", ""),
            active_from=start,
            active_until=end,
            priority=item.get("priority", 0),
            exclusive=item.get("stacking", "stack") == "exclusive",
            group=item.get("group", kind),
            limit_per_customer=limit.get("per_customer"),
            limit_period=limit.get("period", "all_time"),
            budget_points=item.get("budget", {}).get("points"),
            points=points,
            discount=discount,
            free_shipping_threshold=threshold,
            free_item=free_item,
            suggest=tuple(then.get("suggest", ())),
            needs_customer=declarations.mentions(when, "customer")
            or bool(experiment)
            or (points is not None and points.multiply == "tier"),
            experiment=experiment.get("id"),
            variant=experiment.get("variant"),
            campaign=item.get("campaign"),
            counters=counters,
        )

    def _points(self, doc: Document, path: tuple, p: dict, rid: str, on: str) -> PointsEffect | None:
        given = [k for k in ("per_unit", "fixed", "multiply") if k in p]
        if len(given) != 1:
            self.err(doc, path, f"rule '{rid}': points need exactly one of per_unit, fixed, multiply", rid)
            return None
        if on != ORDER and given[0] != "fixed":
            self.err(doc, path, f"rule '{rid}': {given[0]} points only apply to orders; use fixed", rid, key=given[0])
            return None
        multiply = p.get("multiply")
        self._rule_expiry(doc, path, rid, p.get("expires_in_days"))
        if "lines" in p and "fixed" in p:
            message = f"rule '{rid}': lines apply to per_unit and multiply points, not fixed"
            self.err(doc, path, message, rid, key="lines")
            return None
        return PointsEffect(
            lines=p.get("lines"),
            per_unit=dec(p["per_unit"]) if "per_unit" in p else None,
            fixed=p.get("fixed"),
            multiply=multiply if multiply == "tier" or multiply is None else dec(multiply),
            pending_days=p.get("pending_days"),
            expires_in_days=p.get("expires_in_days"),
        )

    def _rule_expiry(self, doc: Document, path: tuple, rid: str, days: Any) -> None:
        """A rule's own `expires_in_days` is the per-award policy: refused under the
        inactivity policy, and it must leave room for the notice."""
        if not isinstance(days, int):
            return
        expiry = self.spec.settings.expiry
        if expiry.after_inactivity:
            message = (
                f"rule '{rid}': expires_in_days is the per-award policy, but the program's points expire"
                " after inactivity (program.points.expires_after_inactive_days); remove one"
            )
            self.err(doc, path, message, rid, key="expires_in_days")
        elif expiry.notice_days is not None and days <= expiry.notice_days:
            message = (
                f"rule '{rid}': its points expire after {days} days, not after the program's"
                f" notice_days ({expiry.notice_days}): the notice would come too late"
            )
            self.err(doc, path, message, rid, key="expires_in_days")

    def _cross_check(self, tier_nodes: dict, reward_ids: dict) -> None:
        tiers = set(tier_nodes)
        known = ", ".join(sorted(tiers)) or "none defined"
        for doc, path, item, _ in self._items("rules", include_invalid=True):
            when = item.get("when")
            customer = when.get("customer") if isinstance(when, dict) else None
            wanted = customer.get("tier") if isinstance(customer, dict) else None
            for i, name in enumerate(
                [wanted] if isinstance(wanted, str) else wanted if isinstance(wanted, list) else []
            ):
                if isinstance(name, str) and name not in tiers:
                    sub = ("when", "customer", "tier") + (() if isinstance(wanted, str) else (i,))
                    self.err(
                        doc, path + sub, f"rule '{item['id']}': unknown tier '{name}' (tiers: {known})", item["id"]
                    )
        for doc, path, item, _ in self._items("rewards"):
            for i, name in enumerate(item.get("tiers", [])):
                if name not in tiers:
                    self.err(doc, path + ("tiers", i), f"reward '{item['id']}': unknown tier '{name}' (tiers: {known})")
        for doc, path, item, _ in self._items("tiers"):
            for i, rid in enumerate(item.get("benefits", {}).get("rewards", [])):
                if rid not in reward_ids:
                    self.err(doc, path + ("benefits", "rewards", i), f"tier '{item['name']}': unknown reward '{rid}'")
        uses_tier_multiplier = any(r.points is not None and r.points.multiply == "tier" for r in self.spec.rules)
        for tier in self.spec.tiers:
            if tier.multiplier != 1 and not uses_tier_multiplier and tier.name in tier_nodes:
                doc, path = tier_nodes[tier.name]
                self.err(
                    doc,
                    path + ("benefits", "multiplier"),
                    f"tier '{tier.name}' has multiplier {tier.multiplier} but no rule applies tier multipliers;"
                    " add a rule with then: {points: {multiply: tier}}",
                )

    def _link_rewards(self) -> None:
        """A reward a tier lists is restricted to that tier too, so both views agree."""
        by_reward: dict[str, set[str]] = {}
        for tier in self.spec.tiers:
            for rid in tier.rewards:
                by_reward.setdefault(rid, set()).add(tier.name)
        rewards = []
        for reward in self.spec.rewards:
            names = set(reward.tiers) | by_reward.get(reward.id, set())
            rewards.append(replace(reward, tiers=tuple(t.name for t in self.spec.tiers if t.name in names)))
        self.spec.rewards = rewards
        self.spec.tiers = [
            replace(tier, rewards=tuple(r.id for r in rewards if tier.name in r.tiers)) for tier in self.spec.tiers
        ]


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _learned(section: dict) -> LearnedSuggestions:
    exclude = section.get("exclude") or {}

    def strings(value: Any) -> frozenset[str]:
        return frozenset([value] if isinstance(value, str) else value or ())

    return LearnedSuggestions(
        min_support=section.get("min_support", 2),
        max=section.get("max", 3),
        exclude_skus=strings(exclude.get("skus")),
        exclude_categories=strings(exclude.get("categories")),
    )


def parse_folder(docs: list[tuple[Document, set[tuple]]], complete: bool = True) -> tuple[FolderSpec, list[RuleError]]:
    """`complete=False` when some rule file could not be read: references between files
    (tiers, rewards, the tier multiplier rule) are then not checked, as what they refer to
    may be in that file, and errors there would be false."""
    return _Parser(docs, complete).run()
