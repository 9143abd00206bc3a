"""The second edition of the rule language: line filters, any/all/not, customer attributes,
experiments, the program's time zone and recurring schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.program import CustomerFacts
from rules.experiments import variant_of
from rules.model import Experiment
from tests.unit.rules.rules_testkit import customer, errors_of, order, points_by_rule, program_of

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
FEEDING = ("BOTTLE", 10, {"category": "feeding"})
CRIB = ("CRIB", 200, {"category": "cribs"})


def test_double_points_on_feeding_double_only_the_feeding_lines():
    program = program_of("""
        rules:
          - {id: base, then: {points: {per_unit: 1}}}
          - {id: feeding-double, then: {points: {multiply: 2, lines: {category: feeding}}}}
    """)
    evaluation = program.evaluate_order(customer(), order(FEEDING, CRIB), NOW)
    assert points_by_rule(evaluation) == {"base": 210, "feeding-double": 10}


def test_per_unit_points_on_a_line_filter_count_only_those_lines():
    program = program_of("rules: [{id: toys, then: {points: {per_unit: 3, lines: {category: feeding}}}}]")
    assert points_by_rule(program.evaluate_order(None, order(FEEDING, CRIB), NOW)) == {"toys": 30}


def test_a_sum_over_a_category_is_compared_with_its_threshold():
    program = program_of("""
        rules:
          - id: feeding-50
            when: {cart: {sum: {lines: {category: feeding}, value: {gte: 50}}}}
            then: {points: {fixed: 100}}
    """)
    five = ("BOTTLE", 10, {"category": "feeding", "quantity": 5})
    four = ("BOTTLE", 10, {"category": "feeding", "quantity": 4})
    assert points_by_rule(program.evaluate_order(None, order(five, CRIB), NOW)) == {"feeding-50": 100}
    assert points_by_rule(program.evaluate_order(None, order(four, CRIB), NOW)) == {}


def test_a_line_condition_on_price_matches_the_line_not_the_order():
    program = program_of("""
        rules:
          - {id: dear, when: {cart: {any_line: {unit_price: {gte: 150}}}}, then: {points: {fixed: 5}}}
    """)
    assert points_by_rule(program.evaluate_order(None, order(FEEDING, CRIB), NOW)) == {"dear": 5}
    assert points_by_rule(program.evaluate_order(None, order(FEEDING, FEEDING), NOW)) == {}


def test_any_across_different_fields_awards_once():
    program = program_of("""
        tiers: [{name: Bronze, threshold: 0}, {name: Gold, threshold: 100}]
        rules:
          - id: gold-or-spender
            when: {any: [{customer: {tier: Gold}}, {customer: {lifetime_spend: {gte: 1000}}}]}
            then: {points: {fixed: 80}}
    """)
    rich_gold = customer("Gold", lifetime_spend=Decimal(5000))
    assert points_by_rule(program.evaluate_order(rich_gold, order(FEEDING), NOW)) == {"gold-or-spender": 80}
    spender = customer("Bronze", lifetime_spend=Decimal(1000))
    assert points_by_rule(program.evaluate_order(spender, order(FEEDING), NOW)) == {"gold-or-spender": 80}
    assert points_by_rule(program.evaluate_order(customer("Bronze"), order(FEEDING), NOW)) == {}


def test_not_inverts_a_cart_condition():
    program = program_of("""
        rules:
          - {id: no-cribs, when: {not: {cart: {any_line: {category: cribs}}}}, then: {points: {fixed: 3}}}
    """)
    assert points_by_rule(program.evaluate_order(None, order(FEEDING), NOW)) == {"no-cribs": 3}
    assert points_by_rule(program.evaluate_order(None, order(FEEDING, CRIB), NOW)) == {}


def test_not_of_a_condition_on_a_missing_fact_holds():
    program = program_of("""
        rules:
          - id: not-recent
            when: {not: {customer: {days_since_last_order: {lt: 30}}}}
            then: {points: {fixed: 7}}
    """)
    never_ordered = CustomerFacts("c9", order_count=0)
    assert points_by_rule(program.evaluate_order(never_ordered, order(FEEDING), NOW)) == {"not-recent": 7}


def test_a_discount_on_lines_counts_on_and_is_capped_by_those_lines():
    program = program_of("""
        rules:
          - {id: feeding-20, then: {discount: {percent: 20, lines: {category: feeding}}}}
          - {id: crib-10, then: {discount: {amount: 500, lines: {category: cribs}}}}
    """)
    discounts = {d.rule_id: d.amount for d in program.evaluate_order(None, order(FEEDING, CRIB), NOW).discounts}
    assert discounts == {"feeding-20": Decimal("2.00"), "crib-10": Decimal("200.00")}


def test_a_fixed_price_discounts_each_matching_unit_down_to_it():
    program = program_of("""
        rules:
          - {id: light, then: {discount: {fixed_price: 15, lines: {sku: LIGHT}}}}
    """)
    light = ("LIGHT", 24, {"quantity": 2})
    evaluation = program.evaluate_order(None, order(light, FEEDING), NOW)
    assert [(d.rule_id, d.amount) for d in evaluation.discounts] == [("light", Decimal("18.00"))]
    cheap = program.evaluate_order(None, order(("LIGHT", 12)), NOW)
    assert cheap.discounts == ()


def test_time_conditions_are_read_in_the_program_time_zone():
    program = program_of("""
        program: {time_zone: Europe/Paris}
        rules:
          - {id: first-monday, when: {time: {weekday: mon, week_of_month: 1}}, then: {points: {fixed: 25}}}
          - {id: last-week, when: {time: {week_of_month: last}}, then: {points: {fixed: 1}}}
    """)
    sunday_night_utc = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # Monday 2 March, 00:30 in Paris
    assert points_by_rule(program.evaluate_order(None, order(FEEDING), sunday_night_utc)) == {"first-monday": 25}
    second_monday = datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert points_by_rule(program.evaluate_order(None, order(FEEDING), second_monday)) == {}
    assert points_by_rule(program.evaluate_order(None, order(FEEDING), datetime(2026, 3, 28, tzinfo=UTC))) == {
        "last-week": 1
    }


def test_an_attribute_condition_tests_the_declared_attribute():
    program = program_of("""
        customer_attributes: {new_parent: boolean, due_date: date, segment: {one_of: [budget, premium]}}
        rules:
          - id: parents-due-in-march
            when: {customer: {attributes: {new_parent: true, due_date: {month: 3}, segment: premium}}}
            then: {points: {fixed: 11}}
    """)
    due = {"new_parent": True, "due_date": "2026-03-14", "segment": "premium"}
    parent = CustomerFacts("c1", attributes=due)
    assert points_by_rule(program.evaluate_order(parent, order(FEEDING), NOW)) == {"parents-due-in-march": 11}
    later = CustomerFacts("c1", attributes={**due, "due_date": "2026-04-01"})
    assert points_by_rule(program.evaluate_order(later, order(FEEDING), NOW)) == {}


def test_a_rule_in_an_experiment_applies_to_its_variant_and_records_it():
    program = program_of("""
        experiments: [{id: split, variants: {a: 50, b: 50}}]
        rules:
          - {id: only-b, experiment: {id: split, variant: b}, then: {points: {fixed: 9}}}
    """)
    split = program.settings.experiments["split"]
    in_b = next(c for c in (f"c{i}" for i in range(50)) if variant_of(split, c) == "b")
    in_a = next(c for c in (f"c{i}" for i in range(50)) if variant_of(split, c) == "a")
    evaluation = program.evaluate_order(CustomerFacts(in_b), order(FEEDING), NOW)
    assert [(a.rule_id, a.variant) for a in evaluation.awards] == [("only-b", "split/b")]
    assert evaluation.variants == {"split": "b"}
    assert program.evaluate_order(CustomerFacts(in_a), order(FEEDING), NOW).awards == ()


def test_variants_split_customers_by_their_shares():
    experiment = Experiment("split", (("control", 30), ("test", 70)))
    shares = [variant_of(experiment, f"customer-{i}") for i in range(4000)]
    assert 0.27 < shares.count("control") / len(shares) < 0.33
    assert variant_of(experiment, "customer-1") == variant_of(experiment, "customer-1")


def test_new_constructs_are_checked_with_file_line_col_errors():
    errors = errors_of(
        **{
            "p.yaml": """
        program: {time_zone: Europe/Pariss}
        customer_attributes: {new_parent: boolean}
        experiments: [{id: split, variants: {a: 50, b: 40}}, {id: ok, variants: {x: 50, y: 50}}]
        rules:
          - {id: r1, when: {customer: {attributes: {shoe_size: 3}}}, then: {points: {fixed: 1}}}
          - {id: r2, when: {customer: {attributes: {new_parent: 3}}}, then: {points: {fixed: 1}}}
          - {id: r3, experiment: {id: ok, variant: z}, then: {points: {fixed: 1}}}
          - {id: r4, then: {discount: {fixed_price: 3}}}
    """
        }
    )
    assert errors == [
        "p.yaml:2:22: time zone 'Europe/Pariss' is not an IANA time zone name"
        " (for example Europe/Paris, America/New_York, UTC)",
        "p.yaml:4:37: experiment 'split': the variants' shares add up to 90; they must add up to 100",
        "p.yaml:6:56: rule 'r1': unknown customer attribute 'shoe_size'; declare it under customer_attributes",
        "p.yaml:7:57: rule 'r2': attribute 'new_parent' is a boolean: test it with true or false",
        "p.yaml:8:44: rule 'r3': experiment 'ok' has no variant 'z' (variants: x, y)",
        "p.yaml:9:32: rule 'r4': a fixed_price needs lines (which items sell at that price)",
    ]


def test_any_all_not_nest_at_most_three_deep():
    errors = errors_of(
        **{
            "p.yaml": """
        rules:
          - id: deep
            when: {not: {not: {not: {not: {order: {subtotal: 1}}}}}}
            then: {points: {fixed: 1}}
    """
        }
    )
    assert len(errors) == 1 and "deep" in errors[0] and "not" in errors[0]


def test_a_rule_too_complex_for_durable_rules_is_refused_with_advice():
    alternatives = ", ".join(f"{{order: {{subtotal: {i}, item_count: {i}}}}}" for i in range(14))
    rule = f"{{id: wide, when: {{any: [{alternatives}]}}, then: {{points: {{fixed: 1}}}}}}"
    errors = errors_of(**{"p.yaml": f"rules: [{rule}]"})
    assert len(errors) == 1
    assert "rule 'wide': its conditions have too many alternatives" in errors[0]
    assert "split it into several rules" in errors[0]
