"""The classic 5,000-rule program of bench_rules.py: tiers, earning, 4,000 cross-sell pairs.

Almost every rule names a sku, category or tag, so the index alone keeps an order to a few
rulesets; bench/realistic_rules.py is the mix where it does not (issue 13).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from decimal import Decimal

from domain.program import CustomerFacts, LineFacts, OrderFacts

CROSS_SELL = 4000
CATEGORY_BONUSES = 600
SKU_BONUSES = 200
EVENT_RULES = 150
GLOBAL_RULES = 48
SKUS = 20000
CATEGORIES = [f"cat{i}" for i in range(400)]
TAGS = [f"tag{i}" for i in range(200)]
NOW = datetime(2025, 6, 14, 12, tzinfo=UTC)


def _item(**fields: object) -> str:
    """One rule as a YAML list item (JSON is YAML's flow style)."""
    return "  - " + json.dumps(fields)


def generate(seed: int = 7) -> dict[str, str]:
    rng = random.Random(seed)
    tiers = """
tier_qualification: {basis: points, period: {rolling_days: 365}}
tiers:
  - {name: Bronze, threshold: 0, benefits: {free_shipping_threshold: 60}}
  - {name: Silver, threshold: 1000, benefits: {multiplier: 1.25, free_shipping_threshold: 40}}
  - {name: Gold, threshold: 5000, benefits: {multiplier: 1.5, free_shipping_threshold: 0}}
"""
    earning = [
        "rules:",
        _item(id="base-earn", then={"points": {"per_unit": 1}}),
        _item(id="tier-multiplier", then={"points": {"multiply": "tier"}}),
    ]
    for i in range(CATEGORY_BONUSES):
        # one in six also needs a quantity on the same line: a per-line (object) condition,
        # several times dearer in durable-rules than a one-key condition on the flat lists
        line: dict[str, object] = {"category": CATEGORIES[i % 400]}
        if i % 6 == 0:
            line["min_quantity"] = 2
        earning.append(
            _item(id=f"cat-bonus-{i}", when={"cart": {"any_line": line}}, then={"points": {"fixed": 10 + i % 40}})
        )
    for i in range(SKU_BONUSES):
        earning.append(
            _item(
                id=f"sku-bonus-{i}",
                priority=i % 5,
                when={"cart": {"any_line": {"sku": f"P{rng.randrange(SKUS)}"}}},
                then={"points": {"fixed": 25}},
            )
        )
    events = ["review.published", "social.followed", "survey.completed", "customer.birthday", "referral.completed"]
    for i in range(EVENT_RULES):
        earning.append(
            _item(
                id=f"event-{i}",
                on=events[i % 5],
                when={"event": {"score": {"gte": i % 10}}},
                then={"points": {"fixed": 5}},
            )
        )
    for i in range(GLOBAL_RULES):
        when = [
            {"order": {"subtotal": {"gte": 20 + i}}, "customer": {"tier": ["Silver", "Gold"]}},
            {"customer": {"tag": TAGS[i % 50]}, "time": {"weekday": ["sat", "sun"]}},
            {"order": {"coupon": f"CODE{i}"}},
            {"customer": {"days_since_last_order": {"gte": 30 + i}}},
        ][i % 4]
        earning.append(
            _item(
                id=f"global-{i}",
                active={"from": f"2025-0{1 + i % 6}-01", "until": "2025-12-31"},
                limit={"per_customer": 3, "period": "month"},
                when=when,
                then={"points": {"fixed": 15}},
            )
        )
    cross = ["rules:"]
    for i in range(CROSS_SELL):
        # most pairs hang on a product (a crib -> its mattress), some on a category or a tag
        kind = i % 20
        if kind < 15:
            trigger = {"sku": f"P{rng.randrange(SKUS)}"}
        elif kind < 19:
            trigger = {"category": CATEGORIES[i % len(CATEGORIES)]}
        else:
            trigger = {"tag": TAGS[i % len(TAGS)]}
        cross.append(
            _item(
                id=f"pair-{i}",
                when={"cart": {"any_line": trigger, "no_line": {"sku": f"S{i}"}}},
                then={"suggest": [f"S{i}"]},
            )
        )
    return {"tiers.yaml": tiers, "earning.yaml": "\n".join(earning) + "\n", "cross_sell.yaml": "\n".join(cross) + "\n"}


def orders(n: int, seed: int = 11) -> list[tuple[CustomerFacts, OrderFacts]]:
    rng = random.Random(seed)
    result = []
    for i in range(n):
        lines = tuple(
            LineFacts(
                f"P{rng.randrange(SKUS)}",
                rng.randint(1, 3),
                Decimal(rng.randint(100, 20000)) / 100,
                category=rng.choice(CATEGORIES),
                tags=frozenset(rng.sample(TAGS, 2)),
            )
            for _ in range(rng.randint(1, 6))
        )
        customer = CustomerFacts(
            f"c{i}",
            tier=rng.choice(["Bronze", "Silver", "Gold"]),
            tags=frozenset(rng.sample(TAGS, 2)),
            order_count=rng.randint(0, 20),
        )
        result.append((customer, OrderFacts("EUR", lines, coupon_codes=frozenset({f"CODE{rng.randrange(60)}"}))))
    return result
