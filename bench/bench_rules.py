"""Bench: a 5,000-rule program (tiers, earning, 4,000 cross-sell pairs) through durable-rules,
beside a plain-Python evaluation of the same rules in the same run.

    .venv/bin/python bench/bench_rules.py [--orders 2000]

Prints figures and their targets (load < 2 s, order p99 < 2 ms); asserts nothing about time.
Two plain-Python evaluations of the same parsed rules run in the same process for the ratio:
one checks every order rule, one only the rules the cart's skus/categories/tags can trigger
(the same index the Program uses), so the ratio shows what durable-rules itself costs.
Both are checked to suggest exactly what the Program suggests.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.program import CustomerFacts, LineFacts, OrderFacts  # noqa: E402
from rules import load_program_from_sources  # noqa: E402

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


# --- the same rules, evaluated in plain Python (no durable-rules), for the ratio ---


def _as_list(v):
    return v if isinstance(v, list) else [v]


def python_evaluator(program, indexed: bool):
    """Predicates per rule straight from the parsed `when`, checked rule by rule; with
    `indexed`, only rules the cart's skus/categories/tags can trigger (the same index)."""
    from rules.compiler import index_keys
    from rules.facts import WEEKDAYS, order_keys

    def line_ok(spec, line):
        return all(
            (
                "sku" not in spec or line.sku in _as_list(spec["sku"]),
                "category" not in spec or line.category in _as_list(spec["category"]),
                "tag" not in spec or bool(line.tags & set(_as_list(spec["tag"]))),
                "min_quantity" not in spec or line.quantity >= spec["min_quantity"],
            )
        )

    def cmp(value, spec):
        if not isinstance(spec, dict):
            return value == spec
        ops = {
            "gte": value >= spec.get("gte", value),
            "gt": "gt" not in spec or value > spec["gt"],
            "lte": value <= spec.get("lte", value),
            "lt": "lt" not in spec or value < spec["lt"],
        }
        return all(ops.values())

    def matches(rule, customer, order, now):
        if rule.on != "order" or not rule.active_at(now):
            return False
        w = rule.when
        cart = w.get("cart", {})
        if "any_line" in cart and not any(line_ok(cart["any_line"], ln) for ln in order.lines):
            return False
        if "no_line" in cart and any(line_ok(cart["no_line"], ln) for ln in order.lines):
            return False
        o = w.get("order", {})
        if "subtotal" in o and not cmp(order.subtotal, o["subtotal"]):
            return False
        if "coupon" in o and not (order.coupon_codes & set(_as_list(o["coupon"]))):
            return False
        c = w.get("customer", {})
        if c or rule.needs_customer:
            if customer is None:
                return False
            if "tier" in c and customer.tier not in _as_list(c["tier"]):
                return False
            if "tag" in c and not (customer.tags & set(_as_list(c["tag"]))):
                return False
            if "days_since_last_order" in c:
                if customer.last_order_at is None:
                    return False
        t = w.get("time", {})
        if "weekday" in t and WEEKDAYS[now.weekday()] not in _as_list(t["weekday"]):
            return False
        return True

    all_rules = [r for r in program.rules if r.on == "order"]
    by_key: dict[str, list] = {}
    unindexed = []
    for rule in all_rules:
        keys = index_keys(rule)
        for key in keys:
            by_key.setdefault(key, []).append(rule)
        if not keys:
            unindexed.append(rule)

    def candidates(order):
        if not indexed:
            return all_rules
        found = {id(r): r for key in order_keys(order) for r in by_key.get(key, ())}
        return unindexed + list(found.values())

    def evaluate(customer, order, now):
        matched = [r for r in candidates(order) if matches(r, customer, order, now)]
        points = 0
        suggestions = []
        in_cart = {ln.sku for ln in order.lines}
        for r in sorted(matched, key=lambda r: (-r.priority, r.position)):
            if r.points is not None and r.points.fixed:
                points += r.points.fixed
            elif r.points is not None and r.points.per_unit:
                points += int(order.subtotal * r.points.per_unit)
            suggestions.extend(s for s in r.suggest if s not in in_cart)
        return matched, points, suggestions

    return evaluate


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    sources = generate()
    started = time.perf_counter()
    program = load_program_from_sources(sources)
    load_s = time.perf_counter() - started
    rulesets = program.ruleset_count
    print(f"program: {len(program.rules)} rules ({CROSS_SELL} cross-sell pairs), {rulesets} durable-rules rulesets")
    print(f"load (parse + validate + compile): {load_s:.2f} s   target < 2 s")

    cases = orders(args.orders)
    for customer, order in cases[:50]:  # warm-up
        program.evaluate_order(customer, order, NOW)
    # Each evaluator runs its own loop over the same orders, so neither pollutes the
    # other's caches or leaves it the garbage to collect.
    timings, evaluations = [], []
    for customer, order in cases:
        t0 = time.perf_counter()
        evaluation = program.evaluate_order(customer, order, NOW)
        timings.append((time.perf_counter() - t0) * 1000)
        evaluations.append(sorted(s.sku for s in evaluation.suggestions))
    print(
        f"evaluate_order, durable-rules: p50 {statistics.median(timings):.3f} ms  "
        f"p99 {pct(timings, 0.99):.3f} ms   target p99 < 2 ms"
    )
    for indexed, label in ((False, "plain Python, every rule     "), (True, "plain Python, same index     ")):
        plain = python_evaluator(program, indexed)
        plain_timings, agree = [], 0
        for (customer, order), skus in zip(cases, evaluations, strict=True):
            t0 = time.perf_counter()
            _, _, suggestions = plain(customer, order, NOW)
            plain_timings.append((time.perf_counter() - t0) * 1000)
            agree += skus == sorted(set(suggestions))
        q50, q99 = statistics.median(plain_timings), pct(plain_timings, 0.99)
        print(
            f"{label}: p50 {q50:.3f} ms  p99 {q99:.3f} ms   durable/plain: p50 "
            f"{statistics.median(timings) / q50:.2f}x  p99 {pct(timings, 0.99) / q99:.2f}x   "
            f"(suggestions agree on {agree}/{len(cases)} orders)"
        )


if __name__ == "__main__":
    main()
