"""A realistic generated program and its carts, for bench_rules.py (issue 13).

The mix of a shop's campaigns: 30% sku bonuses, 25% category rules, 10% subtotal thresholds
with limits, 8% date windows with budgets, 10% tier conditions, 5% coupons, the rest mixed
(event rules, cross-sell pairs, customer tags, win-back, any/not). Spend thresholds and tier
offers come in exclusive bands, as real campaigns are written: "spend 50, 100 or 200" is one
exclusive group, either as explicit bands (`gte` and `lt`) or as `gte` steps whose priority
grows with the threshold. Date windows are spread over two years around NOW, so few are open.
About 30% of the order rules name no sku or category, and a 10-line cart applies about 100.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.program import CustomerFacts, LineFacts, OrderFacts

NOW = datetime(2025, 6, 14, 12, tzinfo=UTC)
SKUS = 20000
PROMOTED = 4000
"""Sku rules pick from these products, and carts draw half their lines from them."""
CATEGORIES = [f"cat{i}" for i in range(400)]
TAGS = [f"tag{i}" for i in range(100)]
CUSTOMER_TAGS = ["vip", "staff", "newsletter", "b2b", "student", "new-parent"]
TIERS = ["Bronze", "Silver", "Gold"]
EVENTS = ["review.published", "social.followed", "survey.completed"]
SHARES = (
    ("sku", 30),
    ("category", 25),
    ("threshold", 10),
    ("window", 8),
    ("tier", 10),
    ("coupon", 5),
    ("mixed", 12),
)


def _item(**fields: object) -> str:
    """One rule as a YAML list item (JSON is YAML's flow style)."""
    return "  - " + json.dumps(fields)


def coupon_codes(rules: int) -> list[str]:
    return [f"PROMO{i}" for i in range(max(1, rules * 5 // 100))]


def _window(rng: random.Random, now: datetime) -> dict[str, str]:
    start = now.date() - timedelta(days=rng.randrange(-365, 365))
    return {"from": start.isoformat(), "until": (start + timedelta(days=rng.choice([2, 3, 7, 14, 30]))).isoformat()}


class _Writer:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.items: list[str] = []
        self.campaign = 0

    def add(self, **fields: object) -> None:
        self.items.append(_item(**fields))

    def next_campaign(self) -> int:
        self.campaign += 1
        return self.campaign

    def sku(self, i: int) -> None:
        rng = self.rng
        sku = f"P{rng.randrange(PROMOTED)}"
        kind = i % 6
        if kind == 0:
            self.add(id=f"sku-{i}", when={"cart": {"any_line": {"sku": sku}}}, then={"points": {"fixed": 25}})
        elif kind == 1:
            self.add(
                id=f"sku-{i}",
                when={"cart": {"any_line": {"sku": sku, "min_quantity": 2}}},
                then={"points": {"fixed": 50}},
            )
        elif kind == 2:
            self.add(
                id=f"sku-{i}",
                active=_window(rng, self.now),
                when={"cart": {"any_line": {"sku": sku}}},
                then={"points": {"per_unit": 2, "lines": {"sku": sku}}},
            )
        elif kind == 3:
            self.add(
                id=f"sku-{i}",
                when={"cart": {"any_line": {"sku": sku}}},
                then={"discount": {"percent": 10, "lines": {"sku": sku}}},
            )
        elif kind == 4:
            self.add(
                id=f"sku-{i}",
                priority=i % 5,
                when={"cart": {"any_line": {"sku": [sku, f"P{rng.randrange(PROMOTED)}"]}}},
                then={"points": {"fixed": 10}},
            )
        else:
            self.add(
                id=f"sku-{i}",
                when={"cart": {"any_line": {"sku": sku}}, "customer": {"tier": rng.choice(TIERS)}},
                then={"points": {"fixed": 30}},
            )

    def category(self, i: int) -> None:
        rng = self.rng
        category = rng.choice(CATEGORIES)
        kind = i % 5
        if kind == 0:
            self.add(id=f"cat-{i}", when={"cart": {"any_line": {"category": category}}}, then={"points": {"fixed": 15}})
        elif kind == 1:  # "50 EUR of feeding or more"
            self.add(
                id=f"cat-{i}",
                when={"cart": {"sum": {"lines": {"category": category}, "value": {"gte": rng.choice([30, 50, 100])}}}},
                then={"points": {"fixed": 40}},
            )
        elif kind == 2:  # "double points on feeding this fortnight"
            self.add(
                id=f"cat-{i}",
                active=_window(rng, self.now),
                when={"cart": {"any_line": {"category": category}}},
                then={"points": {"multiply": 2, "lines": {"category": category}}},
            )
        elif kind == 3:
            self.add(
                id=f"cat-{i}",
                when={"cart": {"any_line": {"category": category, "unit_price": {"gte": 20}}}},
                then={"discount": {"percent": 5, "lines": {"category": category}}},
            )
        else:
            self.add(
                id=f"cat-{i}",
                when={"cart": {"any_line": {"category": category}}, "time": {"weekday": ["sat", "sun"]}},
                then={"points": {"per_unit": 1, "lines": {"category": category}}},
            )

    def thresholds(self) -> int:
        """One campaign of spend bands; the number of rules written."""
        rng = self.rng
        campaign = self.next_campaign()
        base = rng.choice([20, 25, 30, 40, 50, 60, 75, 100, 150])
        steps = [base * m for m in (1, 2, 4, 8)[: rng.choice([2, 3, 4])]]
        limit = {"per_customer": rng.choice([1, 2, 5]), "period": rng.choice(["week", "month", "all_time"])}
        banded = campaign % 2 == 0
        discount = campaign % 3 == 0
        window = _window(rng, self.now) if campaign % 4 else None  # most campaigns run for a while
        for n, low in enumerate(steps):
            spend: dict[str, int] = {"gte": low}
            if banded and n + 1 < len(steps):
                spend["lt"] = steps[n + 1]
            then = {"discount": {"amount": 5 * (n + 1)}} if discount else {"points": {"fixed": 20 * (n + 1)}}
            rule: dict[str, object] = {
                "id": f"spend-{campaign}-{n}",
                "group": f"spend-{campaign}",
                "stacking": "exclusive",
                "priority": n,
                "limit": limit,
                "when": {"order": {"subtotal": spend}},
                "then": then,
            }
            if window:
                rule["active"] = window
            self.add(**rule)
        return len(steps)

    def window(self, i: int) -> None:
        rng = self.rng
        window = _window(rng, self.now)
        budget = {"points": rng.choice([50000, 100000, 500000])}
        kind = i % 4
        if kind == 0:
            self.add(id=f"window-{i}", active=window, budget=budget, then={"points": {"fixed": 100}})
        elif kind == 1:  # "double points on feeding this fortnight"
            category = rng.choice(CATEGORIES)
            self.add(
                id=f"window-{i}",
                active=window,
                budget=budget,
                when={"cart": {"any_line": {"category": category}}},
                then={"points": {"multiply": 2, "lines": {"category": category}}},
            )
        elif kind == 2:
            self.add(
                id=f"window-{i}",
                budget=budget,
                when={"time": {"between": window}, "order": {"subtotal": {"gte": 30}}},
                then={"points": {"fixed": 50}},
            )
        else:
            self.add(
                id=f"window-{i}",
                active=window,
                budget=budget,
                when={
                    "time": {"weekday": rng.choice(["sat", "sun", "fri"])},
                    "cart": {"any_line": {"category": rng.choice(CATEGORIES)}},
                },
                then={"points": {"fixed": 75}},
            )

    def tier_offers(self) -> int:
        """One campaign offering each tier its own bonus, or spend bands of lifetime spend."""
        rng = self.rng
        campaign = self.next_campaign()
        group = f"tier-offer-{campaign}"
        window = _window(rng, self.now) if campaign % 8 else None
        if campaign % 3 == 0:
            lows = [0, 500, 2000]
            for n, low in enumerate(lows):
                band: dict[str, int] = {"gte": low}
                if n + 1 < len(lows):
                    band["lt"] = lows[n + 1]
                rule: dict[str, object] = {
                    "id": f"{group}-{n}",
                    "group": group,
                    "stacking": "exclusive",
                    "when": {"customer": {"lifetime_spend": band}, "order": {"subtotal": {"gte": 40}}},
                    "then": {"points": {"fixed": 10 * (n + 1)}},
                }
                if window:
                    rule["active"] = window
                self.add(**rule)
            return len(lows)
        category = rng.choice(CATEGORIES) if campaign % 3 == 1 else None
        for n, tier in enumerate(TIERS):
            rule = {
                "id": f"{group}-{n}",
                "group": group,
                "stacking": "exclusive",
                "when": {"customer": {"tier": tier}},
            }
            if window:
                rule["active"] = window
            if category:  # "Gold members: triple points on strollers"
                rule["when"] = {"customer": {"tier": tier}, "cart": {"any_line": {"category": category}}}
                rule["then"] = {"points": {"per_unit": n + 1, "lines": {"category": category}}}
            elif campaign % 4 == 1:
                rule["then"] = {"free_shipping": {"threshold": [60, 40, 0][n]}}
            else:
                rule["then"] = {"points": {"fixed": [5, 15, 40][n]}}
            self.add(**rule)
        return len(TIERS)

    def coupon(self, i: int, codes: list[str]) -> None:
        code = codes[i % len(codes)]
        if i % 3 == 0:
            self.add(
                id=f"coupon-{i}",
                limit={"per_customer": 1},
                when={"order": {"coupon": code}},
                then={"discount": {"amount": 10}},
            )
        elif i % 3 == 1:
            self.add(
                id=f"coupon-{i}",
                when={"order": {"coupon": code, "subtotal": {"gte": 50}}},
                then={"discount": {"percent": 10, "max": 30}},
            )
        else:
            self.add(id=f"coupon-{i}", when={"order": {"coupon": code}}, then={"points": {"fixed": 200}})

    def mixed(self, i: int) -> None:
        rng = self.rng
        kind = i % 8
        if kind == 0:
            self.add(
                id=f"mixed-{i}",
                on=EVENTS[i % len(EVENTS)],
                when={"event": {"rating": {"gte": i % 5}}},
                then={"points": {"fixed": 5}},
            )
        elif kind in (1, 2):  # cross-sell
            self.add(
                id=f"mixed-{i}",
                when={"cart": {"any_line": {"sku": f"P{rng.randrange(PROMOTED)}"}, "no_line": {"sku": f"S{i}"}}},
                then={"suggest": [f"S{i}"]},
            )
        elif kind == 3:
            self.add(
                id=f"mixed-{i}",
                when={"customer": {"tag": rng.choice(CUSTOMER_TAGS)}, "cart": {"any_line": {"tag": rng.choice(TAGS)}}},
                then={"points": {"fixed": 20}},
            )
        elif kind == 4:  # win-back
            self.add(
                id=f"mixed-{i}",
                active=_window(rng, self.now),
                limit={"per_customer": 1, "period": "year"},
                when={"customer": {"days_since_last_order": {"gte": rng.choice([60, 90, 180])}}},
                then={"points": {"fixed": 100}},
            )
        elif kind == 5:  # "Gold, or lifetime spend of 1,000", not staff
            self.add(
                id=f"mixed-{i}",
                when={
                    "any": [
                        {"customer": {"tier": "Gold"}},
                        {"customer": {"lifetime_spend": {"gte": rng.choice([1000, 2000])}}},
                    ],
                    "not": {"customer": {"tag": "staff"}},
                    "cart": {"any_line": {"category": rng.choice(CATEGORIES)}},
                },
                then={"points": {"fixed": 30}},
            )
        elif kind == 6:
            self.add(
                id=f"mixed-{i}",
                when={"customer": {"birthday_month": True}, "order": {"item_count": {"gte": 2}}},
                limit={"per_customer": 1, "period": "year"},
                then={"points": {"fixed": 100}},
            )
        else:
            self.add(
                id=f"mixed-{i}",
                when={"order": {"country": rng.choice(["FR", "BE", "DE"])}, "customer": {"order_count": 0}},
                then={"discount": {"amount": 5}},
            )


HEADER = """
program: {name: Realistic, currency: EUR, time_zone: Europe/Paris, max_discount_per_order: {percent: 30}}
tier_qualification: {basis: points, period: {rolling_days: 365}}
tiers:
  - {name: Bronze, threshold: 0, benefits: {free_shipping_threshold: 60}}
  - {name: Silver, threshold: 1000, benefits: {multiplier: 1.25, free_shipping_threshold: 40}}
  - {name: Gold, threshold: 5000, benefits: {multiplier: 1.5, free_shipping_threshold: 0}}
"""


def generate(rules: int = 5000, seed: int = 7, now: datetime = NOW) -> dict[str, str]:
    """Rule files of about `rules` rules in the realistic mix (bands are written whole);
    their date windows are spread around `now`."""
    rng = random.Random(seed)
    writer = _Writer(rng, now)
    writer.add(id="base-earn", then={"points": {"per_unit": 1}})
    writer.add(id="tier-multiplier", then={"points": {"multiply": "tier"}})
    codes = coupon_codes(rules)
    for kind, share in SHARES:
        count = rules * share // 100
        if kind in ("threshold", "tier"):
            written = 0
            while written < count:
                written += writer.thresholds() if kind == "threshold" else writer.tier_offers()
            continue
        make = {
            "sku": writer.sku,
            "category": writer.category,
            "window": writer.window,
            "mixed": writer.mixed,
            "coupon": lambda i: writer.coupon(i, codes),
        }[kind]
        for i in range(count):
            make(i)
    return {"tiers.yaml": HEADER, "campaigns.yaml": "rules:\n" + "\n".join(writer.items) + "\n"}


def orders(
    n: int, rules: int = 5000, lines: int = 10, seed: int = 11, now: datetime = NOW
) -> list[tuple[CustomerFacts, OrderFacts]]:
    """`n` carts of `lines` lines: half the lines promoted products, a coupon on one in four."""
    rng = random.Random(seed)
    codes = coupon_codes(rules)
    result = []
    for i in range(n):
        cart = tuple(
            LineFacts(
                f"P{rng.randrange(PROMOTED) if rng.random() < 0.5 else rng.randrange(SKUS)}",
                rng.choice([1, 1, 1, 2, 3]),
                Decimal(rng.randint(199, 9999)) / 100,
                category=rng.choice(CATEGORIES),
                tags=frozenset(rng.sample(TAGS, rng.randint(0, 2))),
            )
            for _ in range(lines)
        )
        customer = CustomerFacts(
            f"c{i}",
            tier=rng.choice(TIERS),
            tags=frozenset(rng.sample(CUSTOMER_TAGS, rng.randint(0, 2))),
            lifetime_spend=Decimal(rng.randint(0, 5000)),
            order_count=rng.randint(0, 20),
            last_order_at=now - timedelta(days=rng.randint(1, 400)) if rng.random() < 0.8 else None,
            birthday=date(1990, rng.randint(1, 12), 1),
        )
        coupons = frozenset({rng.choice(codes)}) if rng.random() < 0.25 else frozenset()
        country = rng.choice(["FR", "BE", "DE", "NL"])
        result.append((customer, OrderFacts("EUR", cart, coupon_codes=coupons, country=country)))
    return result
