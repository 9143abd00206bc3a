"""Large programs: rules indexed by what an order must hold, shared conditions, the trace on
request (rules/triggers.py, rules/matcher.py). The property test checks the answers of the
indexed shapes against plain Python; these check what it cannot see."""

import json
import random
from datetime import timedelta
from decimal import Decimal

from rules_testkit import NOW, TIERS, customer, order, points_by_rule, program_of

from domain.program import EventFacts, LineFacts, OrderFacts
from rules import DEMO_RULES_DIR, load_program


def _rules(*items: dict) -> str:
    return "rules:\n" + "".join(f"  - {json.dumps(item)}\n" for item in items)


def test_a_program_with_hundreds_of_line_sums_evaluates():
    """Every line filter's sums used to be in every fact: past ~60 filters, durable-rules
    refused every order (more than 255 properties per fact)."""
    rules = [
        {
            "id": f"feeding-{i}",
            "when": {"cart": {"sum": {"lines": {"category": f"c{i}"}, "value": {"gte": 10}}}},
            "then": {"points": {"fixed": 1}},
        }
        for i in range(300)
    ]
    program = program_of(_rules(*rules))
    cart = order(*[(f"S{i}", 10 if i % 2 else 5, {"category": f"c{i}"}) for i in range(300)])

    assert program.evaluate_order(customer(), cart, NOW).points == 150


def test_an_event_with_hundreds_of_attributes_is_evaluated_on_those_its_rules_read():
    program = program_of(
        _rules({"id": "r", "on": "custom.big", "when": {"event": {"a7": 7}}, "then": {"points": {"fixed": 5}}})
    )
    attributes = {f"a{i}": i for i in range(300)}

    assert program.evaluate_event(customer(), EventFacts("custom.big", attributes), NOW).points == 5


def test_rules_with_the_same_conditions_each_apply_and_keep_their_own_group():
    program = program_of(
        TIERS,
        _rules(
            {"id": "gold-a", "group": "a", "when": {"customer": {"tier": "Gold"}}, "then": {"points": {"fixed": 10}}},
            {"id": "gold-b", "group": "b", "when": {"customer": {"tier": "Gold"}}, "then": {"points": {"fixed": 20}}},
            {
                "id": "gold-b-more",
                "group": "b",
                "priority": 5,
                "stacking": "exclusive",
                "when": {"customer": {"tier": "Gold"}},
                "then": {"points": {"fixed": 30}},
            },
        ),
    )

    gold = program.evaluate_order(customer("Gold"), order(("A", 1)), NOW)

    assert points_by_rule(gold) == {"gold-a": 10, "gold-b-more": 30}
    assert program.evaluate_order(customer("Silver"), order(("A", 1)), NOW).points == 0


def test_spend_bands_windows_tiers_and_coupons_apply_exactly_at_their_bounds():
    rules = [
        {"id": "from-50", "when": {"order": {"subtotal": {"gte": 50}}}, "then": {"points": {"fixed": 1}}},
        {"id": "over-50", "when": {"order": {"subtotal": {"gt": 50}}}, "then": {"points": {"fixed": 2}}},
        {"id": "under-50", "when": {"order": {"subtotal": {"lt": 50}}}, "then": {"points": {"fixed": 4}}},
        {"id": "to-50", "when": {"order": {"subtotal": {"lte": 50}}}, "then": {"points": {"fixed": 8}}},
        {"id": "at-50", "when": {"order": {"subtotal": 50}}, "then": {"points": {"fixed": 16}}},
        {"id": "band", "when": {"order": {"subtotal": {"gte": 49.99, "lt": 50.01}}}, "then": {"points": {"fixed": 32}}},
        {"id": "window", "active": {"from": "2025-03-04", "until": "2025-03-04"}, "then": {"points": {"fixed": 64}}},
        {"id": "gold", "when": {"customer": {"tier": "Gold"}}, "then": {"points": {"fixed": 128}}},
        {"id": "coupon", "when": {"order": {"coupon": "spring"}}, "then": {"points": {"fixed": 256}}},
    ]
    program = program_of(TIERS, _rules(*rules))

    def fired(subtotal: str, when=NOW, tier="Bronze", coupons=frozenset()) -> set[str]:
        cart = OrderFacts("EUR", (LineFacts("A", 1, Decimal(subtotal)),), coupon_codes=coupons)
        return set(program.evaluate_order(customer(tier), cart, when).applied_rule_ids)

    assert fired("50.00") == {"from-50", "to-50", "at-50", "band", "window"}
    assert fired("50.01") == {"from-50", "over-50", "window"}
    assert fired("49.99") == {"under-50", "to-50", "band", "window"}
    assert fired("50", when=NOW + timedelta(days=1)) == {"from-50", "to-50", "at-50", "band"}
    assert fired("50", when=NOW - timedelta(days=1)) == {"from-50", "to-50", "at-50", "band"}
    assert fired("10", tier="Gold", coupons=frozenset({"SPRING"})) == {"under-50", "to-50", "window", "gold", "coupon"}


def test_an_evaluation_without_the_trace_gives_the_same_answer_and_what_applied():
    program = load_program(DEMO_RULES_DIR)
    rng = random.Random(5)
    skus = ["CRIB-OAK", "MATT-CRIB", "BOTTLE", "LAMP", "STROLLER-X", "BIB"]
    categories = ["cribs", "feeding", "strollers", None]
    for _ in range(60):
        cart = OrderFacts(
            "EUR",
            tuple(
                LineFacts(
                    rng.choice(skus), rng.randint(1, 3), Decimal(rng.randint(100, 40000)) / 100, rng.choice(categories)
                )
                for _ in range(rng.randint(0, 5))
            ),
            coupon_codes=frozenset(rng.sample(["WELCOME10", "SPRING", "X"], rng.randint(0, 2))),
        )
        who = rng.choice([None, customer(rng.choice(["Bronze", "Silver", "Gold"]), order_count=rng.randint(0, 3))])

        full = program.evaluate_order(who, cart, NOW)
        lean = program.evaluate_order(who, cart, NOW, trace=False)

        assert (lean.awards, lean.discounts, lean.free_shipping, lean.suggestions) == (
            full.awards,
            full.discounts,
            full.free_shipping,
            full.suggestions,
        )
        assert lean.applied_rule_ids == full.applied_rule_ids
        assert list(lean.trace) == [entry for entry in full.trace if entry.applied]
