"""Bench: loading and evaluating large rule programs through durable-rules, beside a
plain-Python evaluation of the same rules in the same run.

    .venv/bin/python bench/bench_rules.py [--mix realistic|classic] [--rules 500,5000,20000]
                                          [--orders 1000] [--lines 10] [--every-rule 100]

`--mix realistic` (the default; bench/realistic_rules.py, issue 13): 30% sku bonuses, 25%
category rules, 10% spend thresholds with limits, 8% date windows with budgets, 10% tier
conditions, 5% coupons, the rest mixed, at each size of `--rules`, on carts of `--lines`
lines. `--mix classic` (bench/classic_rules.py): the earlier 5,000-rule program, almost all
of whose rules name a sku, category or tag, on carts of 1 to 6 lines.

Each size runs in its own process, so that its memory is its own. Printed per size: load
time (parse, validate, compile), after which the program is frozen out of the garbage
collector's full passes as a serving worker does (app/program_memory.py); RSS added by the
loaded and exercised program, per 1,000 rules; `evaluate_order` p50/p99 without the trace
(what recordOrder asks for) and with it (evaluateCart selecting `trace`), in wall time and
in the CPU time of the evaluating thread (on a shared machine the wall time also counts the
time other processes hold the CPU);
and the floor: the same Program with durable-rules replaced by a plain-Python reading of
the rules (tests/unit/rules/reference.py), over the candidates of the same index, and over
every rule for `--every-rule` orders. Every evaluation of the floor is checked to give the
same answer (awards, discounts, free shipping, suggestions, trace) as durable-rules.
Targets (issue 13): p99 < 2 ms at 5,000 realistic rules; load < 5 s and p99 < 10 ms at
20,000. Asserts nothing about time; exits 1 on a wrong answer.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.program_memory import keep_in_force  # noqa: E402
from bench import classic_rules, realistic_rules  # noqa: E402
from rules import load_program_from_sources  # noqa: E402
from rules.compiler import cart_keys  # noqa: E402
from rules.model import ORDER  # noqa: E402
from rules.program import Program  # noqa: E402
from tests.unit.rules import reference  # noqa: E402

NOW = realistic_rules.NOW


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class PlainMatcher:
    """Stands in for rules.matcher.Matcher: the reference reading of each candidate rule."""

    reads_lines = False

    def __init__(self, program: Program, indexed: bool) -> None:
        self.matcher = program._matcher
        self.zone = ZoneInfo(program.settings.time_zone)
        self.settings = program.settings
        self.every = [rule for rule in program.rules if rule.on == ORDER]
        self.indexed = indexed
        self.customer = None

    def match_order(self, fact, order, keys):
        if self.indexed:
            chunks = self.matcher._order_chunks
            numbers = self.matcher._index.chunks(fact, keys)
            candidates = [rule for n in numbers for c in chunks[n].conditions for rule in c.rules]
        else:
            candidates = self.every
        now = NOW
        return [r for r in candidates if reference.matches(r, self.customer, order, now, self.zone, self.settings)]


def _names_sku_or_category(rule) -> bool:
    return any(key.startswith(("sku:", "category:")) for key in cart_keys(rule))


def _timed(evaluate, cases, **kwargs) -> tuple[list[float], list[float], list]:
    walls, cpus, answers = [], [], []
    for customer, order in cases:
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        answers.append(evaluate(customer, order, NOW, **kwargs))
        cpus.append((time.thread_time_ns() - cpu) / 1e6)
        walls.append((time.perf_counter_ns() - wall) / 1e6)
    return walls, cpus, answers


def _answer(evaluation) -> tuple:
    return (
        evaluation.awards,
        evaluation.discounts,
        evaluation.free_shipping,
        evaluation.suggestions,
        evaluation.trace,
    )


def one(mix: str, rules: int, order_count: int, lines: int, every_rule: int) -> dict:
    """One program size, in this process: the figures as a dict."""
    if mix == "classic":
        sources, cases = classic_rules.generate(), classic_rules.orders(order_count)
    else:
        sources, cases = realistic_rules.generate(rules), realistic_rules.orders(order_count, rules, lines)
    before = rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    program = load_program_from_sources(sources)
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    keep_in_force(program)  # as a serving worker does after a load (app/program_memory.py)
    for customer, order in cases[:50]:  # warm-up: a ruleset's engine state is made on first use
        program.evaluate_order(customer, order, NOW)
    lean_wall, lean_cpu, lean = _timed(program.evaluate_order, cases, trace=False)
    full_wall, full_cpu, full = _timed(program.evaluate_order, cases)
    memory = rss_mb() - before
    out = {
        "mix": mix,
        "rules": len(program.rules),
        "order_rules": sum(1 for r in program.rules if r.on == ORDER),
        "no_key": sum(1 for r in program.rules if r.on == ORDER and not _names_sku_or_category(r)),
        "rulesets": program.ruleset_count,
        "conditions": len(program._matcher._conditions),
        "load_s": load_wall,
        "load_cpu_s": load_cpu,
        "rss_mb": memory,
        "applied": statistics.mean(len(e.applied_rule_ids) for e in lean),
        "trace_entries": statistics.mean(len(e.trace) for e in full),
        "wrong": 0,
    }
    for name, values in (
        ("lean_wall", lean_wall),
        ("lean_cpu", lean_cpu),
        ("trace_wall", full_wall),
        ("trace_cpu", full_cpu),
    ):
        out[name] = (statistics.median(values), pct(values, 0.99))
    for label, indexed, count in (("plain_index", True, len(cases)), ("plain_every", False, every_rule)):
        plain = PlainMatcher(program, indexed)
        floor = copy.copy(program)
        floor._matcher = plain  # type: ignore[assignment]

        def evaluate(customer, order, now, plain=plain, floor=floor, **kwargs):
            plain.customer = customer
            return floor.evaluate_order(customer, order, now, **kwargs)

        subset = cases[:count]
        walls, cpus, answers = _timed(evaluate, subset)
        out[label] = (statistics.median(cpus), pct(cpus, 0.99), len(subset))
        out["wrong"] += sum(_answer(a) != _answer(b) for a, b in zip(answers, full, strict=False))
    return out


def report(r: dict) -> None:
    share = f", {r['no_key'] / r['order_rules']:.0%} of which name no sku or category"
    print(
        f"\n{r['mix']} mix: {r['rules']:,} rules ({r['order_rules']:,} on orders){share}, "
        f"{r['conditions']:,} distinct conditions in {r['rulesets']} rulesets"
    )
    print(f"  load: {r['load_s']:.2f} s (CPU {r['load_cpu_s']:.2f} s)")
    print(f"  memory: {r['rss_mb']:.1f} MB RSS, {r['rss_mb'] / r['rules'] * 1000:.1f} MB per 1,000 rules")
    print(f"  a cart applies {r['applied']:.0f} rules on average; its whole trace has {r['trace_entries']:.0f} entries")
    for key, label in (("lean", "evaluate_order, no trace"), ("trace", "evaluate_order, trace  ")):
        (w50, w99), (c50, c99) = r[f"{key}_wall"], r[f"{key}_cpu"]
        print(f"  {label}: p50 {w50:.3f} ms  p99 {w99:.3f} ms   (CPU p50 {c50:.3f} ms  p99 {c99:.3f} ms)")
    c50 = r["lean_cpu"][0]
    for key, label in (("plain_index", "plain Python, same index"), ("plain_every", "plain Python, every rule")):
        p50, p99, count = r[key]
        print(
            f"  {label}, with trace: CPU p50 {p50:.3f} ms  p99 {p99:.3f} ms over {count} carts"
            f"   (durable-rules without trace at {c50 / p50:.2f}x its p50)"
        )
    print(f"  answers that differ from plain Python: {r['wrong']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mix", choices=["realistic", "classic"], default="realistic")
    parser.add_argument("--rules", default="500,5000,20000", help="sizes of the realistic mix, comma-separated")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--every-rule", type=int, default=100, help="carts for the every-rule floor")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    common = ["--mix", args.mix, "--orders", str(args.orders), "--lines", str(args.lines)]
    common += ["--every-rule", str(args.every_rule)]
    if args.one is not None:
        print(json.dumps(one(args.mix, args.one, args.orders, args.lines, args.every_rule)))
        return
    with open("/proc/loadavg") as loadavg:
        print(f"load average before: {loadavg.read().split()[:3]}")
    sizes = [5000] if args.mix == "classic" else [int(n) for n in args.rules.split(",")]
    wrong = 0
    for size in sizes:
        done = subprocess.run([sys.executable, __file__, *common, "--one", str(size)], capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        report(result)
        wrong += result["wrong"]
    with open("/proc/loadavg") as loadavg:
        print(f"\nload average after: {loadavg.read().split()[:3]}")
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
