"""A backtest's arithmetic: recorded orders and events through a Program, tallied per rule.

Plain evaluation, as `evaluateCart` would do it as of each order's time, without the trace
(the tallies read only what applied, which the lean trace keeps) and with no usage:
limits and budgets are evaluated as if nothing had been used yet (a backtest writes
nothing, and replaying usage would need every earlier order of every customer replayed
under the candidate too). The tallies of pages add up (`Tally.merge`), so pages can be
evaluated anywhere, in any order, and summed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from domain.history import RecordedEvent, RecordedOrder
from domain.program import Evaluation
from rules.program import Program


@dataclass
class RuleFigures:
    fired: int = 0
    """Orders and events it applied to."""
    points: int = 0
    discounts: Decimal = Decimal(0)
    """In the program currency."""

    def add(self, other: RuleFigures) -> None:
        self.fired += other.fired
        self.points += other.points
        self.discounts += other.discounts


@dataclass
class Tally:
    rules: dict[str, RuleFigures] = field(default_factory=dict)
    orders: int = 0
    events: int = 0
    refused: int = 0
    touched: int = 0
    """Orders and events some rule applied to."""
    """Orders the program would not evaluate (a cart with more distinct skus, categories
    and tags tested by `no_line` than durable-rules takes: recording would refuse it too)."""

    def figures(self, rule_id: str) -> RuleFigures:
        found = self.rules.get(rule_id)
        if found is None:
            found = self.rules[rule_id] = RuleFigures()
        return found

    def add(self, evaluation: Evaluation) -> None:
        applied = evaluation.applied_rule_ids
        if applied:
            self.touched += 1
        for rule_id in applied:
            self.figures(rule_id).fired += 1
        for award in evaluation.awards:
            self.figures(award.rule_id).points += award.points
        for discount in evaluation.discounts:
            self.figures(discount.rule_id).discounts += discount.amount
        for product in evaluation.free_products:  # a rule's free item counts at its value
            if product.value is not None:
                self.figures(product.rule_id).discounts += product.value

    def merge(self, other: Tally) -> None:
        self.orders += other.orders
        self.events += other.events
        self.refused += other.refused
        self.touched += other.touched
        for rule_id, figures in other.rules.items():
            self.figures(rule_id).add(figures)


def replay(program: Program, orders: Iterable[RecordedOrder] = (), events: Iterable[RecordedEvent] = ()) -> Tally:
    tally = Tally()
    for order in orders:
        tally.orders += 1
        try:
            evaluation = program.evaluate_order(order.customer, order.rule_facts(), order.at, trace=False)
        except ValueError:
            tally.refused += 1
            continue
        tally.add(evaluation)
    for event in events:
        tally.add(program.evaluate_event(event.customer, event.event, event.at, trace=False))
        tally.events += 1
    return tally
