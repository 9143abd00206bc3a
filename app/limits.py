"""Evaluating under limits, program caps and budgets, shared by orders and events.

Usage only ever takes awards away, so a recording is first evaluated without it, and
usage is read only when a limited rule applied. Then every limited counter's usage is
read, not just the applied rules': an exclusive rule held back by its limit can let
another limited rule apply in its place, and that one's usage must be known too.
Program-wide rows (budgets and caps, of rules and of campaigns) are locked (after the
customer's row) for the rules that apply, in key order; one that only applies once usage
is known gets its rows locked and the recording evaluated once more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal

from domain.program import Evaluation, EventFacts, UsageSnapshot
from persistence.rule_uses import UsageJson, Use
from persistence.unit_of_work import Session
from rules import Program


@dataclass(frozen=True)
class LimitedEvaluation:
    evaluation: Evaluation
    limited: Mapping[str, datetime | None] = field(default_factory=dict)
    """The program's counters and the start of their current periods (empty when no
    limited rule applied, and then nothing needs recording)."""
    locked: tuple[str, ...] = ()
    scopes: dict[str, str] = field(default_factory=dict)


async def evaluate_within_limits(
    session: Session,
    program: Program,
    customer_id: int | None,
    now: datetime,
    evaluate: Callable[[UsageSnapshot | None], Evaluation],
    *,
    dry_run: bool = False,
    event: EventFacts | None = None,
    read: UsageJson | None = None,
) -> LimitedEvaluation:
    """`dry_run`: the same evaluation a recording would make now, reading usage without
    locking or writing anything (previews). `customer_id=None`: an anonymous cart, which
    only budgets and program caps can hold back. `event`: for limits per its attributes.
    `read`: a dry run's usage, read with the customer (a round trip fewer)."""
    evaluation = evaluate(None)
    if not applied_limited_rule(program, evaluation):
        return LimitedEvaluation(evaluation)
    if not dry_run:
        session.needs_lock()  # uses are counted under the customer's lock
    limited = program.limited_rules(now)
    scopes = program.scopes(event)
    program_wide = program.program_wide_keys
    locked: list[str] = []
    for _ in range(len(program_wide) + 1):
        wanted: Sequence[str]
        if dry_run:  # nothing is locked: every figure is read at once
            wanted = program_wide
        else:
            wanted = sorted(_program_keys(program, evaluation) - set(locked))
        if dry_run and read is not None:
            usage = session.limits.snapshot_of(read.rows(), limited, wanted, scopes=scopes)
        else:
            usage = await session.limits.usage_snapshot(
                customer_id, limited, [*locked, *wanted], scopes=scopes, for_update=not dry_run
            )
        locked += wanted
        if nothing_used(usage):
            break  # what evaluate(None) assumed: the evaluation stands (one fewer per order)
        evaluation = evaluate(usage)
        if dry_run or not _program_keys(program, evaluation) - set(locked):
            break
    return LimitedEvaluation(evaluation, limited, tuple(locked), scopes)


def _program_keys(program: Program, evaluation: Evaluation) -> set[str]:
    return {
        each.key
        for rule_id in evaluation.applied_rule_ids
        for each in program.rule(rule_id).counters
        if each.program_wide
    }


def nothing_used(usage: UsageSnapshot) -> bool:
    """Whether every count of the snapshot is 0, as no snapshot at all reads (resolve.py:
    an absent rule counts 0). Every mapping field is checked, whatever fields it grows."""
    return all(
        isinstance(counts := getattr(usage, f.name), Mapping) and not any(counts.values()) for f in fields(usage)
    )


def applied_limited_rule(program: Program, evaluation: Evaluation) -> bool:
    return any(program.rule(rule_id).is_limited for rule_id in evaluation.applied_rule_ids)


def uses_of(program: Program, result: LimitedEvaluation) -> list[Use]:
    """One use per counter of every limited rule that applied, with what the rule gave."""
    evaluation = result.evaluation
    points: dict[str, int] = {}
    for award in evaluation.awards:
        points[award.rule_id] = points.get(award.rule_id, 0) + award.points
    amounts: dict[str, Decimal] = {}
    for discount in evaluation.discounts:
        amounts[discount.rule_id] = amounts.get(discount.rule_id, Decimal(0)) + discount.amount
    for product in evaluation.free_products:  # a free item's value counts as a discount would
        amounts[product.rule_id] = amounts.get(product.rule_id, Decimal(0)) + (product.value or Decimal(0))
    uses = []
    for rule_id in evaluation.applied_rule_ids:
        for each in program.rule(rule_id).counters:
            uses.append(
                Use(
                    each.key,
                    points.get(rule_id, 0),
                    amounts.get(rule_id, Decimal(0)),
                    result.scopes.get(each.key),
                    each.program_wide,
                )
            )
    return uses


async def record_applied_uses(
    session: Session,
    program: Program,
    customer_id: int,
    result: LimitedEvaluation,
    now: datetime,
    *,
    order_id: int | None = None,
    event_id: int | None = None,
) -> None:
    if not result.limited:
        return
    uses = uses_of(program, result)
    assert set(result.locked) >= {u.key for u in uses if u.program_wide}, "an unlocked counter"
    await session.limits.record_uses(customer_id, uses, now, order_id=order_id, event_id=event_id)
