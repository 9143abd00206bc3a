"""`loyalty rules test`: marketers' scenarios (given a customer and an order or event, expect
these effects) run against the rules folder they live in."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from domain.errors import DomainError
from domain.program import CustomerFacts, Evaluation, EventFacts, LineFacts, OrderFacts, UsageSnapshot
from rules import schema_check
from rules.errors import RuleFileErrors
from rules.loader import SCENARIO_DIR, decode, load_program
from rules.parse import parse_when
from rules.program import Program
from rules.yamlsource import Document, parse


def _customer(data: dict | None) -> CustomerFacts | None:
    if data is None:
        return None
    when = {k: parse_when(data[k])[0] for k in ("last_order_at", "enrolled_at") if k in data}
    return CustomerFacts(
        external_id=str(data.get("id", "scenario-customer")),
        tier=data.get("tier"),
        tags=frozenset(data.get("tags", ())),
        lifetime_points=data.get("lifetime_points", 0),
        lifetime_spend=Decimal(str(data.get("lifetime_spend", 0))),
        order_count=data.get("order_count", 0),
        last_order_at=when.get("last_order_at"),
        birthday=date.fromisoformat(data["birthday"][:10]) if "birthday" in data else None,
        enrolled_at=when.get("enrolled_at"),
        attributes=dict(data.get("attributes", {})),
        referred=bool(data.get("referred", False)),
    )


def _order(data: dict, program: Program) -> OrderFacts:
    return OrderFacts(
        currency=data.get("currency", program.settings.currency),
        lines=tuple(
            LineFacts(
                sku=line["sku"],
                quantity=line.get("quantity", 1),
                unit_price=Decimal(str(line["unit_price"])),
                category=line.get("category"),
                tags=frozenset(line.get("tags", ())),
            )
            for line in data["lines"]
        ),
        shipping_amount=Decimal(str(data.get("shipping_amount", 0))),
        coupon_codes=frozenset(data.get("coupons", ())),
        country=data.get("country"),
    )


def evaluate_scenario(program: Program, scenario: dict) -> Evaluation:
    now = parse_when(scenario["now"])[0]
    customer = _customer(scenario.get("customer"))
    usage_data = scenario.get("usage", {})
    usage = UsageSnapshot(
        usage_data.get("customer_uses", {}),
        usage_data.get("program_points", {}),
        {key: Decimal(str(amount)) for key, amount in usage_data.get("program_amounts", {}).items()},
        usage_data.get("program_uses", {}),
    )
    if "event" in scenario:
        if customer is None:
            raise ValueError("an event scenario needs a customer")
        event = EventFacts(scenario["event"]["type"], scenario["event"].get("attributes", {}))
        return program.evaluate_event(customer, event, now, usage)
    try:  # an order in another currency is converted as recordOrder converts it
        order = program.exchange.convert(_order(scenario.get("order", {"lines": []}), program)).facts
    except DomainError as error:
        raise ValueError(error.message) from None
    return program.evaluate_order(customer, order, now, usage)


def differences(expect: dict[str, Any], evaluation: Evaluation) -> list[str]:
    """Human-readable mismatches; empty when the evaluation meets every expectation."""
    why = {t.rule_id: t for t in evaluation.trace}

    def reason(rule_id: str) -> str:
        entry = why.get(rule_id)
        if entry is None:
            return "rule not considered (not triggered by this cart/event, or unknown id)"
        return f"{'applied' if entry.applied else 'not applied'}: {entry.reason}"

    diffs: list[str] = []
    if "points" in expect:
        got: dict[str, int] = {}
        for award in evaluation.awards:
            got[award.rule_id] = got.get(award.rule_id, 0) + award.points
        for rule_id in sorted(set(expect["points"]) | set(got)):
            want, have = expect["points"].get(rule_id, 0), got.get(rule_id, 0)
            if want != have:
                diffs.append(f"points.{rule_id}: expected {want}, got {have} ({reason(rule_id)})")
    if "total_points" in expect and expect["total_points"] != evaluation.points:
        diffs.append(f"total_points: expected {expect['total_points']}, got {evaluation.points}")
    if "suggestions" in expect:
        want_s, have_s = sorted(expect["suggestions"]), sorted(s.sku for s in evaluation.suggestions)
        if want_s != have_s:
            diffs.append(f"suggestions: expected {want_s}, got {have_s}")
    if "free_shipping" in expect:
        diffs.extend(_free_shipping_diff(expect["free_shipping"], evaluation))
    if "discounts" in expect:
        have_d = {d.rule_id: d.amount for d in evaluation.discounts}
        for rule_id in sorted(set(expect["discounts"]) | set(have_d)):
            want_d = Decimal(str(expect["discounts"].get(rule_id, 0)))
            if want_d != have_d.get(rule_id, Decimal(0)):
                diffs.append(
                    f"discounts.{rule_id}: expected {want_d}, got {have_d.get(rule_id, 0)} ({reason(rule_id)})"
                )
    applied = set(evaluation.applied_rule_ids)
    for rule_id in expect.get("applied", []):
        if rule_id not in applied:
            diffs.append(f"applied: expected {rule_id} to apply ({reason(rule_id)})")
    for rule_id in expect.get("not_applied", []):
        if rule_id in applied:
            diffs.append(f"not_applied: expected {rule_id} not to apply ({reason(rule_id)})")
    return diffs


def _free_shipping_diff(want: Any, evaluation: Evaluation) -> list[str]:
    fs = evaluation.free_shipping
    if isinstance(want, bool):
        want = {"eligible": want}
    have = {
        "eligible": bool(fs and fs.eligible),
        "remaining": fs.remaining if fs else None,
        "threshold": fs.threshold if fs else None,
    }
    diffs = []
    for key, value in want.items():
        expected = Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else value
        if expected != have[key]:
            diffs.append(f"free_shipping.{key}: expected {value}, got {have[key]}")
    return diffs


def run_scenarios(folder: Path, out: TextIO = sys.stdout) -> int:
    """Run every scenarios/*.yaml in the folder; prints PASS/FAIL per scenario, 0 when all pass."""
    folder = Path(folder)
    try:
        program = load_program(folder)
    except RuleFileErrors as exc:
        for error in exc.errors:
            print(error, file=out)
        print("rules do not validate; no scenario run", file=out)
        return 1
    files = sorted(p for p in (folder / SCENARIO_DIR).rglob("*") if p.suffix in (".yaml", ".yml"))
    passed = failed = 0
    for path in files:
        relative = path.relative_to(folder).as_posix()
        text, unreadable = decode(relative, path.read_bytes())
        doc, errors = parse(relative, text) if text is not None else (None, [e for e in [unreadable] if e])
        if doc is not None and not errors:
            errors, _ = schema_check.check(doc, "scenarios")
        if errors or doc is None:
            for error in errors:
                print(error, file=out)
            failed += 1
            continue
        for index, scenario in enumerate(doc.data["scenarios"]):
            ok = _run_one(program, doc, index, scenario, out)
            passed, failed = passed + ok, failed + (not ok)
    if not files:
        print(f"no scenario files in {folder / SCENARIO_DIR}", file=out)
    print(f"{passed} passed, {failed} failed (rules version {program.version})", file=out)
    return 0 if failed == 0 and files else 1


def _run_one(program: Program, doc: Document, index: int, scenario: dict, out: TextIO) -> bool:
    node = doc.node_at(("scenarios", index))
    where = f"{doc.file}:{node.start_mark.line + 1 if node else 1}"
    try:
        diffs = differences(scenario["expect"], evaluate_scenario(program, scenario))
    except (ValueError, KeyError) as exc:
        diffs = [f"cannot run: {exc}"]
    if not diffs:
        print(f"PASS {where} {scenario['name']}", file=out)
        return True
    print(f"FAIL {where} {scenario['name']}", file=out)
    for line in diffs:
        print(f"    {line}", file=out)
    return False
