import json
import time

from rules_testkit import NOW, order, program_of

from rules.compiler import MAX_PATHS

CRIB = """
rules:
  - id: crib-mattress
    when: {cart: {any_line: {category: cribs}, no_line: {sku: MATT-CRIB}}}
    then: {suggest: [MATT-CRIB]}
  - id: all-books
    when: {cart: {all_lines: {category: books}}}
    then: {suggest: [BOOKMARK]}
  - id: no-gift-wrap-tagged
    when: {cart: {any_line: {min_quantity: 3}, no_line: {tag: gift}}}
    then: {suggest: [GIFT-WRAP]}
"""


def skus(evaluation):
    return [s.sku for s in evaluation.suggestions]


def test_a_crib_without_its_mattress_suggests_the_mattress():
    program = program_of(CRIB)
    assert skus(program.evaluate_order(None, order(("CRIB-1", 300, {"category": "cribs"})), NOW)) == ["MATT-CRIB"]
    both = order(("CRIB-1", 300, {"category": "cribs"}), ("MATT-CRIB", 80))
    assert skus(program.evaluate_order(None, both, NOW)) == []


def test_all_lines_needs_every_line_and_at_least_one():
    program = program_of(CRIB)
    books = order(("B1", 5, {"category": "books"}), ("B2", 5, {"category": "books"}))
    mixed = order(("B1", 5, {"category": "books"}), ("X", 5))
    assert skus(program.evaluate_order(None, books, NOW)) == ["BOOKMARK"]
    assert skus(program.evaluate_order(None, mixed, NOW)) == []
    assert skus(program.evaluate_order(None, order(), NOW)) == []


def test_no_line_with_a_tag_holds_for_untagged_lines():
    program = program_of(CRIB)
    untagged = order(("A", 5, {"quantity": 3}))
    gift = order(("A", 5, {"quantity": 3}), ("B", 1, {"tags": frozenset({"gift", "x"})}))
    assert skus(program.evaluate_order(None, untagged, NOW)) == ["GIFT-WRAP"]
    assert skus(program.evaluate_order(None, gift, NOW)) == []


def _pairs(n: int, trigger=lambda i: {"sku": f"S{i}"}) -> str:
    lines = ["rules:"]
    for i in range(n):
        when = {"cart": {"any_line": trigger(i), "no_line": {"sku": f"T{i}"}}}
        lines.append("  - " + json.dumps({"id": f"pair-{i}", "when": when, "then": {"suggest": [f"T{i}"]}}))
    return "\n".join(lines) + "\n"


def test_more_than_600_rules_in_one_index_bucket_still_all_match():
    program = program_of(_pairs(650, trigger=lambda i: {"category": "strollers"}))
    evaluation = program.evaluate_order(None, order(("S", 100, {"category": "strollers"})), NOW)
    assert len(evaluation.suggestions) == 650
    assert all(len(chunk.conditions) <= MAX_PATHS for chunk in program._matcher._order_chunks)


def test_thousands_of_pairs_only_consult_the_rulesets_their_cart_triggers():
    program = program_of(_pairs(3000))
    evaluation = program.evaluate_order(None, order(("S17", 10), ("S2999", 10), ("T17", 10)), NOW)
    assert skus(evaluation) == ["T2999"]
    assert len(evaluation.trace) < 100


def test_hundreds_of_numeric_rules_do_not_overflow_the_engine_stack():
    lines = ["rules:"] + [
        f"  - {{id: r{i}, when: {{order: {{subtotal: {{gte: {i}}}}}}}, then: {{points: {{fixed: 1}}}}}}"
        for i in range(300)
    ]
    program = program_of("\n".join(lines) + "\n")
    assert program.evaluate_order(None, order(("A", 1000)), NOW).points == 300


def test_many_evaluations_leave_no_state_behind():
    program = program_of(CRIB)
    started = time.perf_counter()
    for _ in range(3000):  # durable-rules fails after 1,024 live sids when state leaks
        program.evaluate_order(None, order(("CRIB-1", 300, {"category": "cribs"})), NOW)
    assert time.perf_counter() - started >= 0
