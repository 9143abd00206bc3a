"""Learned suggestions: "bought together" pairs from order history, beside the marketers'
cross-sell rules.

The learned-suggestions job rebuilds the pairs with the support the rule files ask for
(`learned_suggestions.min_support`); a cart preview offers them only when no rule
suggested anything, never a sku already in the cart, and never an excluded sku or
category (nor anything a cart's excluded line would suggest). Exclusions are read from the
rules in force on every preview, so a marketer's change counts at once, before the next
rebuild.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from domain.program import Evaluation, OrderFacts, Suggestion
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program

LEARNED_RULE_ID = "learned"
"""What a learned suggestion names as its rule (it has none)."""


async def refresh_learned_pairs(uow: UnitOfWork, program: Program, now: datetime) -> int | None:
    """Rebuilds the pairs; None when the rule files do not ask for learned suggestions."""
    learned = program.settings.learned
    if learned is None:
        return None
    async with uow.transaction() as session:
        return await session.suggestions.rebuild(learned.min_support, now)


async def with_learned_suggestions(
    session: Session, program: Program, order: OrderFacts, evaluation: Evaluation
) -> Evaluation:
    learned = program.settings.learned
    if learned is None or evaluation.suggestions:
        return evaluation
    in_cart = {line.sku for line in order.lines}
    triggers = {line.sku for line in order.lines if learned.allows(line.sku, line.category)}
    picks = await session.suggestions.bought_with(
        triggers,
        not_skus=in_cart | learned.exclude_skus,
        not_categories=learned.exclude_categories,
        limit=learned.max,
    )
    suggestions = tuple(
        Suggestion(pick.sku, LEARNED_RULE_ID, f"bought together with this cart's items in {pick.orders} orders", True)
        for pick in picks
    )
    return replace(evaluation, suggestions=suggestions)
