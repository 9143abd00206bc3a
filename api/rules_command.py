"""`loyalty rules check|test|simulate`: the command line around rules/ and app.simulation."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from api.import_command import ProgressBar
from app.settings import Settings

if TYPE_CHECKING:  # imported when a command runs: `loyalty --help` stays quick
    from app.simulation import Simulation
    from rules import Program
    from rules.backtest import RuleFigures

_DAYS = re.compile(r"(\d+)d")


def add_parser(commands: argparse._SubParsersAction) -> None:
    rules = commands.add_parser("rules", help="check, test and backtest rule files")
    actions = rules.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="validate a rules folder")
    check.add_argument("dir", nargs="?", type=Path)
    check.add_argument(
        "--against-db",
        action="store_true",
        help="also report rules that can never fire: skus, categories, coupons, tiers and event types they need"
        " that the configured database never saw in the last --days",
    )
    check.add_argument("--days", type=_positive, default=None, help="with --against-db: how far back (default 90)")
    test = actions.add_parser("test", help="run the scenario files of a rules folder")
    test.add_argument("dir", nargs="?", type=Path)
    simulate = actions.add_parser(
        "simulate",
        help="replay the orders and events of a period under a candidate folder and under the version in force,"
        " and compare them rule by rule (nothing is written)",
    )
    simulate.add_argument("dir", type=Path, help="the candidate rules folder")
    simulate.add_argument(
        "--since", type=_since, default=None, help="90d (days before --until; the default), or an ISO 8601 date or time"
    )
    simulate.add_argument("--until", type=_moment, default=None, help="ISO 8601 (default: now); excluded")
    simulate.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    simulate.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes evaluating at once (default: one per CPU for 10,000 orders and events or more; 1: this one)",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    from rules import check_folder, run_scenarios

    folder = args.dir or settings.rules_dir
    if args.action == "test":
        return run_scenarios(folder)
    if args.action == "check":
        if args.days is not None and not args.against_db:
            print("loyalty: --days needs --against-db", file=sys.stderr)
            return 2
        checked = check_folder(folder)
        if checked or not args.against_db:
            return checked
        return asyncio.run(_against_db(settings, folder, args.days or 90))
    return _simulate(settings, args)


async def _against_db(settings: Settings, folder: Path, days: int, out: TextIO = sys.stdout) -> int:
    from app.bootstrap import reading_database
    from app.clock import utcnow
    from app.database_admin import DatabaseNotReady
    from app.unreachable_rules import unreachable_rules
    from rules import load_program

    program = load_program(folder)
    try:
        async with reading_database(settings) as uow:
            found = await unreachable_rules(uow, program, days, utcnow())
    except DatabaseNotReady as error:
        print(f"loyalty: {error}", file=sys.stderr)
        return 1
    for item in found:
        rule = item.rule
        print(
            f"{rule.file}:{rule.line}:{rule.col}: rule '{rule.id}' can never fire: {'; '.join(item.reasons)}", file=out
        )
    if found:
        print(f"{len(found)} rule(s) can never fire on what was recorded in the last {days} days", file=out)
    else:
        print(f"every rule can fire on what was recorded in the last {days} days", file=out)
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from rules import RuleFileErrors, load_program

    folder: Path = args.dir
    try:
        candidate = load_program(folder)
    except RuleFileErrors as exc:
        for error in exc.errors:
            print(f"{folder / error.file}:{error.line}:{error.col}: {error.message}", file=sys.stderr)
        print(f"{len(exc.errors)} error(s): the candidate does not load", file=sys.stderr)
        return 1
    return asyncio.run(_run_simulation(settings, candidate, args))


async def _run_simulation(settings: Settings, candidate: Program, args: argparse.Namespace) -> int:
    from app import simulation
    from app.bootstrap import reading_database
    from app.clock import utcnow
    from app.database_admin import DatabaseNotReady
    from domain.errors import DomainError

    until = args.until or utcnow()
    since = args.since(until) if args.since else None
    try:
        span = simulation.period(since, until)
    except DomainError as error:
        print(f"loyalty: {error.message}", file=sys.stderr)
        return 2
    bar = ProgressBar()
    try:
        async with reading_database(settings) as uow:
            current = await simulation.program_in_force(uow, settings.rules_dir)
            result = await simulation.simulate_rules(
                uow, current, candidate, span, workers=args.workers, progress=lambda done, total: bar(done, total)
            )
    except DatabaseNotReady as error:
        print(f"loyalty: {error}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    if args.json:
        print(json.dumps(as_json(result), indent=2))
    else:
        print_table(result, args.dir)
    return 0


def as_json(result: Simulation) -> dict[str, Any]:
    """The simulation for machines: the names of the simulateRules query."""

    def figures(f: RuleFigures) -> dict[str, Any]:
        return {"fired": f.fired, "points": f.points, "discounts": str(f.discounts)}

    def change(now: RuleFigures, then: RuleFigures) -> dict[str, Any]:
        return {
            "firedChange": then.fired - now.fired,
            "pointsChange": then.points - now.points,
            "discountsChange": str(then.discounts - now.discounts),
        }

    return {
        "since": result.period.since.isoformat(),
        "until": result.period.until.isoformat(),
        "currency": result.currency,
        "orders": result.orders,
        "events": result.events,
        "inForceVersion": result.current_version,
        "candidateVersion": result.candidate_version,
        "refusedInForce": result.refused_current,
        "refusedCandidate": result.refused_candidate,
        "rules": [
            {
                "ruleId": rule.rule_id,
                "inForce": figures(rule.current) if rule.in_force else None,
                "candidate": figures(rule.candidate) if rule.in_candidate else None,
                **change(rule.current, rule.candidate),
            }
            for rule in result.rules
        ],
        "total": {
            "inForce": figures(result.current_total),
            "candidate": figures(result.candidate_total),
            **change(result.current_total, result.candidate_total),
        },
        "notes": list(result.notes),
    }


def print_table(result: Simulation, folder: Path, out: TextIO = sys.stdout) -> None:
    span = result.period
    print(
        f"Backtest of {folder} against the version in force: {result.orders:,} orders and {result.events:,} events"
        f" from {_when(span.since)} until {_when(span.until)} (UTC)",
        file=out,
    )
    print(f"  in force:  {result.current_version}\n  candidate: {result.candidate_version}\n", file=out)
    header = ["rule", "fired now", "cand.", "change", "points now", "cand.", "change"]
    header += [f"discounts now ({result.currency})", "cand.", "change"]
    rows = [header]
    silent = 0
    for rule in result.rules:
        if not rule.changed and not rule.current.fired and not rule.current.points and not rule.current.discounts:
            silent += 1
            continue
        name = rule.rule_id + ("" if rule.in_force else " (new)") + ("" if rule.in_candidate else " (removed)")
        rows.append([name, *_cells(rule.current, rule.candidate)])
    rows.append(["total", *_cells(result.current_total, result.candidate_total)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        print("  ".join(cells).rstrip(), file=out)
        if number == 0 or number == len(rows) - 2:
            print("  ".join("-" * width for width in widths), file=out)
    if silent:
        print(f"\n{silent} rule(s) fired in neither version.", file=out)
    print("\n'fired': orders and events the rule applied to (total: those some rule applied to).", file=out)
    for version, refused in (("in force", result.refused_current), ("candidate", result.refused_candidate)):
        if refused:
            print(f"The {version} version would refuse {refused:,} orders (too many skus tested by no_line).", file=out)
    print("Notes:", file=out)
    for note in result.notes:
        print(f"- {note}", file=out)


def _cells(now: RuleFigures, then: RuleFigures) -> list[str]:
    return [
        f"{now.fired:,}",
        f"{then.fired:,}",
        _change(then.fired - now.fired),
        f"{now.points:,}",
        f"{then.points:,}",
        _change(then.points - now.points),
        f"{now.discounts:,.2f}",
        f"{then.discounts:,.2f}",
        _change(then.discounts - now.discounts),
    ]


def _change(value: int | Decimal) -> str:
    if not value:
        return "="
    return f"{value:+,.2f}" if isinstance(value, Decimal) else f"{value:+,}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}")
    return value


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _since(text: str) -> Any:
    """`90d`: that many days before --until; else an ISO 8601 date or time."""
    days = _DAYS.fullmatch(text)
    if days:
        span = timedelta(days=_positive(days.group(1)))
        return lambda until: until - span
    moment = _moment(text)
    return lambda until: moment
