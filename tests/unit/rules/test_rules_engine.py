import json
import random
import threading

import pytest
import yaml
from rules_testkit import NOW, customer, order, points_by_rule, program_of

from domain.program import EventFacts
from rules import DEMO_RULES_DIR
from rules.engine import EngineError
from rules.fastschema import compile_schema
from rules.schema_check import _schema, validator


def test_a_cart_too_big_for_one_fact_is_split_and_still_matches_exactly():
    lines = ["rules:"]
    for i in range(300):
        rule = {
            "id": f"r{i}",
            "when": {"cart": {"any_line": {"sku": f"A{i}"}, "no_line": {"sku": "STOP"}}},
            "then": {"points": {"fixed": 1}},
        }
        lines.append("  - " + json.dumps(rule))
    program = program_of("\n".join(lines) + "\n")
    big = order(*[(f"A{i}", 1) for i in range(300)])
    assert program.evaluate_order(customer(), big, NOW).points == 300
    stopped = order(*[(f"A{i}", 1) for i in range(300)], ("STOP", 1))
    assert program.evaluate_order(customer(), stopped, NOW).points == 0


def test_a_rule_matching_through_several_alternatives_applies_once():
    program = program_of("rules:\n  - {id: r, when: {cart: {any_line: {sku: [A, B]}}}, then: {points: {fixed: 5}}}\n")
    assert points_by_rule(program.evaluate_order(customer(), order(("A", 1), ("B", 1)), NOW)) == {"r": 5}


def test_an_engine_failure_raises_instead_of_passing_silently():
    # A ruleset gets only the fields its rules read: one reading 300 attributes gets a fact
    # past durable-rules' 255 properties per fact.
    many = json.dumps({"event": {f"a{i}": {"gte": 0} for i in range(300)}})
    program = program_of(f"""
        rules:
          - {{id: r, on: custom.big, then: {{points: {{fixed: 5}}}}}}
          - {{id: many, on: custom.big, when: {many}, then: {{points: {{fixed: 1}}}}}}
    """)
    attributes = {f"a{i}": i for i in range(300)}
    with pytest.raises(EngineError):
        program.evaluate_event(customer(), EventFacts("custom.big", attributes), NOW)
    assert program.evaluate_event(customer(), EventFacts("custom.big"), NOW).points == 5


def test_evaluations_from_many_threads_agree():
    program = program_of("""
        rules:
          - {id: base, then: {points: {per_unit: 1}}}
          - {id: crib, when: {cart: {any_line: {category: cribs}}}, then: {suggest: [MATT]}}
    """)
    cart = order(("C", 42, {"category": "cribs"}))
    results, errors = [], []

    def work():
        try:
            for _ in range(200):
                evaluation = program.evaluate_order(customer(), cart, NOW)
                results.append((evaluation.points, tuple(s.sku for s in evaluation.suggestions)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and set(results) == {(42, ("MATT",))} and len(results) == 1600


def _documents():
    for path in sorted(DEMO_RULES_DIR.glob("*.yaml")):
        yield yaml.safe_load(path.read_text())
    bad = [
        {"rules": [{"id": "x"}]},
        {"rules": [{"id": "X!", "then": {"points": {"fixed": 1}}}]},
        {"rules": [{"id": "x", "then": {"points": {"fixed": 1}, "suggest": ["a"]}}]},
        {"rules": [{"id": "x", "then": {"points": {"fixed": True}}}]},
        {"rules": [{"id": "x", "when": {"order": {"subtotal": {"gte": "5"}}}, "then": {"suggest": ["a"]}}]},
        {"rules": [{"id": "x", "when": {"event": {"Bad": 1}}, "then": {"suggest": ["a"]}}]},
        {"rules": [{"id": "x", "stacking": "maybe", "then": {"suggest": ["a"]}}]},
        {"tiers": [{"name": "G", "threshold": -1}]},
        {"rewards": [{"id": "r", "name": "R", "kind": "cash", "points_cost": 1}]},
        {"program": {"currency": "eur"}},
        {"unknown": 1},
        [],
    ]
    yield from bad


@pytest.mark.parametrize("document", list(_documents()))
def test_the_fast_schema_gate_agrees_with_jsonschema(document):
    fast = compile_schema(_schema("rules"))
    assert fast(document) == validator("rules").is_valid(document)


def test_a_rule_durable_rules_refuses_is_an_error_at_that_rule(monkeypatch):
    from rules import RuleFileErrors, engine

    real_build = engine.build

    def picky_build(rules):
        if any({"$gte": {"subtotal": 4200}} in terms for _, terms in rules):
            raise engine.EngineError("Could not create ruleset, error code: 102")
        return real_build(rules)

    monkeypatch.setattr(engine, "build", picky_build)
    with pytest.raises(RuleFileErrors) as caught:
        program_of(
            "rules:\n  - {id: fine, then: {points: {fixed: 1}}}\n"
            "  - {id: refused, when: {order: {subtotal: {gte: 42}}}, then: {points: {fixed: 1}}}\n"
        )
    assert [str(e) for e in caught.value.errors] == [
        "f0.yaml:3:5: rule 'refused': durable-rules cannot compile it (Could not create ruleset, error code: 102)"
    ]


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6


def test_a_freed_ruleset_whose_last_fact_went_unhandled_gives_its_memory_back():
    """Before, each such ruleset leaked its sid's state (~80 kB): 500 leaked ~40 MB."""
    from rules import engine

    def build_evaluate_free():
        ruleset = engine.build([("a", [{"kind": "order"}, {"$gte": {"subtotal": 100}}])])
        with engine.LOCK:
            assert ruleset.matches(engine.fact_json({"kind": "order", "subtotal": 5})) == []
        del ruleset
        with engine.LOCK:
            engine.free_released()

    for _ in range(100):  # the allocator's own pools settle first
        build_evaluate_free()
    before = _rss_mb()
    for _ in range(500):
        build_evaluate_free()
    assert _rss_mb() - before < 10


def test_a_freed_ruleset_whose_last_fact_matched_gives_its_memory_back():
    """A matched fact is retracted and the ruleset's state kept for the next evaluation
    (rules/engine.py); freeing the ruleset frees that state too."""
    from rules import engine

    def build_evaluate_free():
        ruleset = engine.build([(f"r{i}", [{"kind": "order"}, {"$gte": {"subtotal": i}}]) for i in range(20)])
        with engine.LOCK:
            for subtotal in (5, 15, 25):
                assert len(ruleset.matches(engine.fact_json({"kind": "order", "subtotal": subtotal}))) == min(
                    subtotal + 1, 20
                )
        del ruleset
        with engine.LOCK:
            engine.free_released()

    for _ in range(50):  # the allocator's own pools settle first
        build_evaluate_free()
    before = _rss_mb()
    for _ in range(300):
        build_evaluate_free()
    assert _rss_mb() - before < 10


def test_a_ruleset_answers_the_same_over_many_facts_in_any_order():
    """Each fact is retracted after its matches are read: none is left to match the next."""
    from rules import engine

    ruleset = engine.build(
        [(f"r{i}", [{"kind": "order"}, {"$gte": {"subtotal": i}}, {"$lt": {"subtotal": i + 10}}]) for i in range(30)]
    )
    rng = random.Random(3)
    with engine.LOCK:
        for _ in range(2000):
            subtotal = rng.randint(-5, 45)
            fired = ruleset.matches(engine.fact_json({"kind": "order", "subtotal": subtotal}))
            assert sorted(fired) == sorted(f"r{i}" for i in range(30) if i <= subtotal < i + 10)
