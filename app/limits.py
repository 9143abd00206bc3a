"""Evaluating under per-customer limits and budgets, shared by orders and events.

Usage only ever takes awards away, so a recording is first evaluated without it, and
usage is read only when a limited rule applied. Then every limited rule's usage is read,
not just the ones that applied: an exclusive rule held back by its limit can let another
limited rule apply in its place, and that one's usage must be known too. Budget rows are
locked (after the customer's row) for the budget rules that apply, in rule-id order; a
budget rule that only applies once usage is known gets its row locked and the recording
evaluated once more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

from domain.program import Evaluation, UsageSnapshot
from persistence.unit_of_work import Session
from rules import Program


@dataclass(frozen=True)
class LimitedEvaluation:
    evaluation: Evaluation
    limited: dict[str, datetime | None] = field(default_factory=dict)
    """The program's limited rules and the start of their current periods (empty when
    no limited rule applied, and then nothing needs recording)."""
    budgets: tuple[str, ...] = ()


async def evaluate_within_limits(
    session: Session,
    program: Program,
    customer_id: int | None,
    now: datetime,
    evaluate: Callable[[UsageSnapshot | None], Evaluation],
    *,
    dry_run: bool = False,
) -> LimitedEvaluation:
    """`dry_run`: the same evaluation a recording would make now, reading usage without
    locking or writing anything (previews). `customer_id=None`: an anonymous cart, which
    only budgets can hold back."""
    evaluation = evaluate(None)
    if not applied_limited_rule(program, evaluation):
        return LimitedEvaluation(evaluation)
    if not dry_run:
        session.needs_lock()  # uses are counted under the customer's lock
    limited = program.limited_rules(now)
    budget_rules = program.budget_rules & limited.keys()
    locked: list[str] = []
    for _ in range(len(budget_rules) + 1):
        wanted = sorted((set(evaluation.applied_rule_ids) & budget_rules) - set(locked))
        usage = await session.limits.usage_snapshot(customer_id, limited, [*locked, *wanted], for_update=not dry_run)
        locked += wanted
        if nothing_used(usage):
            break  # what evaluate(None) assumed: the evaluation stands (one fewer per order)
        evaluation = evaluate(usage)
        if not (set(evaluation.applied_rule_ids) & budget_rules) - set(locked):
            break
    return LimitedEvaluation(evaluation, limited, tuple(locked))


def nothing_used(usage: UsageSnapshot) -> bool:
    """Whether every count of the snapshot is 0, as no snapshot at all reads (resolve.py:
    an absent rule counts 0). Every mapping field is checked, whatever fields it grows."""
    return all(
        isinstance(counts := getattr(usage, f.name), Mapping) and not any(counts.values()) for f in fields(usage)
    )


def applied_limited_rule(program: Program, evaluation: Evaluation) -> bool:
    return any(program.rule(rule_id).is_limited for rule_id in evaluation.applied_rule_ids)


async def record_applied_uses(
    session: Session,
    customer_id: int,
    result: LimitedEvaluation,
    now: datetime,
    *,
    order_id: int | None = None,
    event_id: int | None = None,
) -> None:
    if not result.limited:
        return
    evaluation = result.evaluation
    applied = set(evaluation.applied_rule_ids) & result.limited.keys()
    uses = {r: sum(a.points for a in evaluation.awards if a.rule_id == r) for r in applied}
    await session.limits.record_uses(customer_id, uses, result.budgets, now, order_id=order_id, event_id=event_id)
