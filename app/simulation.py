"""A backtest before going live (issue 13): the orders and events recorded in a period,
replayed under a candidate rules folder and under the version in force, compared rule by
rule. Nothing is written: no ledger, no limits' uses, no budgets.

History is read a page at a time (persistence.history, one statement per page) while the
pages already read are evaluated (app.backtest_pool: in this process, or in a pool of
processes for long periods), and each page's tallies are summed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path, PurePosixPath

from app.backtest_pool import Evaluator, InProcess, Pool
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.money import minor_units
from persistence.history import Cursor
from persistence.unit_of_work import UnitOfWork
from rules import Program, load_program, load_program_from_sources
from rules.backtest import RuleFigures, Tally

PAGE = 2_000
"""Orders (or events) read by one statement and evaluated as one batch."""
POOL_FROM = 10_000
"""Orders and events from which a pool of processes is worth its start-up (about a second
per worker to import and compile both versions)."""
DEFAULT_DAYS = 90

NOTES = (
    "Limits and budgets are evaluated without usage: a limited rule applies as if it had never been used,"
    " and a budgeted one as if its budget were untouched.",
    "Each customer's facts are as of the order or event as far as the database keeps them (earlier orders,"
    " spend, points earned, tier); tags, attributes and birthday are today's.",
    "Orders do not store their lines' tags, their shipping country or what a redemption's code gave:"
    " rules on tags or countries see none, and redeemed rewards are not replayed.",
)


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    """Exclusive."""


def period(since: datetime | None, until: datetime, days: int = DEFAULT_DAYS) -> Period:
    """[since, until), since defaulting to `days` before until; raises DomainError. A time
    without an offset is UTC."""
    until = _aware(until)
    start = _aware(since) if since is not None else until - timedelta(days=days)
    if start >= until:
        raise DomainError(
            ErrorCode.INVALID,
            f"The period must start before it ends; it starts {start.isoformat()} and ends {until.isoformat()}.",
            ["since"],
        )
    return Period(start, until)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RuleComparison:
    rule_id: str
    in_force: bool
    """The version in force has this rule."""
    in_candidate: bool
    current: RuleFigures
    candidate: RuleFigures

    @property
    def fired_change(self) -> int:
        return self.candidate.fired - self.current.fired

    @property
    def points_change(self) -> int:
        return self.candidate.points - self.current.points

    @property
    def discounts_change(self) -> Decimal:
        return self.candidate.discounts - self.current.discounts

    @property
    def changed(self) -> bool:
        return bool(self.fired_change or self.points_change or self.discounts_change) or (
            self.in_force != self.in_candidate
        )


@dataclass(frozen=True)
class Simulation:
    period: Period
    currency: str
    current_version: str
    candidate_version: str
    orders: int
    events: int
    refused_current: int
    refused_candidate: int
    rules: tuple[RuleComparison, ...]
    """The candidate's rules in folder order, then the rules it drops."""
    current_total: RuleFigures
    candidate_total: RuleFigures
    notes: tuple[str, ...] = NOTES


Progress = Callable[[int, int], None]
"""(orders and events evaluated, of how many)."""


async def simulate_rules(
    uow: UnitOfWork,
    current: Program,
    candidate: Program,
    span: Period,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Simulation:
    """`workers`: processes evaluating pages at once (None: as many as CPUs when the period
    is long enough to repay starting them; 0 or 1: in this process)."""
    async with uow.reading() as session:
        orders, events = await session.history.counts(span.since, span.until)
    evaluator: Evaluator
    count = workers_for(workers, orders + events)
    evaluator = Pool(current, candidate, count) if count > 1 else InProcess(current, candidate)
    totals = (Tally(), Tally())
    async with evaluator:
        await _replay(uow, evaluator, span, totals, orders + events, progress)
    return _compare(span, current, candidate, *totals)


def workers_for(asked: int | None, items: int) -> int:
    if asked is not None:
        return asked
    return (os.cpu_count() or 1) if items >= POOL_FROM else 1


async def _replay(
    uow: UnitOfWork,
    evaluator: Evaluator,
    span: Period,
    totals: tuple[Tally, Tally],
    total: int,
    progress: Progress | None,
) -> None:
    """Reads page after page while at most two pages per worker are being evaluated."""
    in_flight: list[asyncio.Task[tuple[Tally, Tally]]] = []
    done = 0

    async def settle(limit: int) -> None:
        nonlocal done
        while len(in_flight) > limit:
            current, candidate = await in_flight.pop(0)
            totals[0].merge(current)
            totals[1].merge(candidate)
            done += current.orders + current.events
            if progress is not None:
                progress(done, total)

    try:
        for kind in ("orders", "events"):
            after: Cursor | None = None
            while True:
                async with uow.reading() as session:
                    if kind == "orders":
                        page = await session.history.orders_page(span.since, span.until, after, PAGE)
                        batch = evaluator.replay(page.items, ())
                    else:
                        page = await session.history.events_page(span.since, span.until, after, PAGE)
                        batch = evaluator.replay((), page.items)
                in_flight.append(asyncio.ensure_future(batch))
                await settle(2 * evaluator.workers)
                if page.next is None:
                    break
                after = page.next
        await settle(0)
    finally:
        for task in in_flight:
            task.cancel()


def _compare(span: Period, current: Program, candidate: Program, now: Tally, then: Tally) -> Simulation:
    currency = candidate.exchange.program_currency
    unit = Decimal(1).scaleb(-minor_units(currency))

    def shown(figures: RuleFigures | None) -> RuleFigures:
        if figures is None:
            return RuleFigures()
        return RuleFigures(figures.fired, figures.points, figures.discounts.quantize(unit))

    in_force = {rule.id for rule in current.rules}
    in_candidate = {rule.id for rule in candidate.rules}
    ids = [rule.id for rule in candidate.rules] + [rule.id for rule in current.rules if rule.id not in in_candidate]
    # Effects under ids that are no rule of either (none today) still count in the totals.
    ids += sorted((set(now.rules) | set(then.rules)) - set(ids))
    rules = tuple(
        RuleComparison(
            rule_id=rule_id,
            in_force=rule_id in in_force,
            in_candidate=rule_id in in_candidate,
            current=shown(now.rules.get(rule_id)),
            candidate=shown(then.rules.get(rule_id)),
        )
        for rule_id in ids
    )
    return Simulation(
        period=span,
        currency=currency,
        current_version=current.version,
        candidate_version=candidate.version,
        orders=now.orders,
        events=now.events,
        refused_current=now.refused,
        refused_candidate=then.refused,
        rules=rules,
        current_total=shown(_total(now)),
        candidate_total=shown(_total(then)),
    )


def _total(tally: Tally) -> RuleFigures:
    """Fired: the orders and events some rule applied to."""
    total = RuleFigures(fired=tally.touched)
    for figures in tally.rules.values():
        total.points += figures.points
        total.discounts += figures.discounts
    return total


async def program_in_force(uow: UnitOfWork, configured: Path) -> Program:
    """The version every worker runs (the newest activation's stored files); the configured
    folder when none was ever activated on this database."""
    async with uow.reading() as session:
        latest = await session.rules_activations.latest_activation()
        sources = await session.customers.rules_version_sources(latest[1]) if latest else None
    if sources is not None:
        return await asyncio.to_thread(load_program_from_sources, sources)
    return await asyncio.to_thread(load_program, configured)


MAX_FILES = 1_000


def candidate_files(files: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Rule files as a client sends them (path relative to the folder, content); raises
    DomainErrors for paths that cannot be a folder's. Files that are no rule files
    (scenarios, other suffixes) are ignored, as a folder's are."""
    errors: list[DomainError] = []
    sources: dict[str, str] = {}
    if not files:
        errors.append(DomainError(ErrorCode.REQUIRED, "Send the candidate's rule files.", ["files"]))
    if len(files) > MAX_FILES:
        errors.append(DomainError(ErrorCode.INVALID, f"At most {MAX_FILES} files.", ["files"]))
    for index, (path, content) in enumerate(files):
        where = ["files", str(index), "path"]
        parts = PurePosixPath(path).parts
        if not path or path.startswith("/") or "\\" in path or ".." in parts or path != PurePosixPath(path).as_posix():
            message = f"'{path}' is not a relative path such as earning.yaml or campaigns/summer.yaml."
            errors.append(DomainError(ErrorCode.INVALID, message, where))
        elif path in sources:
            errors.append(DomainError(ErrorCode.ALREADY_EXISTS, f"'{path}' is sent twice.", where))
        else:
            sources[path] = content
    if errors:
        raise DomainErrors(errors)
    return sources


async def load_candidate(sources: dict[str, str]) -> Program:
    """Compiled off the event loop; raises RuleFileErrors (file:line:col) when it does not load."""
    return await asyncio.to_thread(load_program_from_sources, sources)
