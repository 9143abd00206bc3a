from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.program import CustomerFacts, LineFacts, OrderFacts
from rules import Program, RuleFileErrors, load_program_from_sources

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)  # a Tuesday

TIERS = """
tiers:
  - name: Bronze
    threshold: 0
  - name: Silver
    threshold: 1000
    benefits: {multiplier: 1.25, free_shipping_threshold: 40}
  - name: Gold
    threshold: 5000
    benefits: {multiplier: 1.5, free_shipping_threshold: 0}
rules:
  - id: tier-multiplier
    then: {points: {multiply: tier}}
"""


def program_of(*texts: str, **named: str) -> Program:
    files = {f"f{i}.yaml": textwrap.dedent(t) for i, t in enumerate(texts)}
    files.update({name: textwrap.dedent(t) for name, t in named.items()})
    return load_program_from_sources(files)


def errors_of(**files: str) -> list[str]:
    with pytest.raises(RuleFileErrors) as caught:
        load_program_from_sources({name: textwrap.dedent(text) for name, text in files.items()})
    return [str(e) for e in caught.value.errors]


def customer(tier: str | None = "Bronze", **kw) -> CustomerFacts:
    kw.setdefault("order_count", 3)
    return CustomerFacts("c1", tier=tier, **kw)


def order(*lines: tuple, **kw) -> OrderFacts:
    kw.setdefault("currency", "EUR")
    built = []
    for line in lines:
        sku, price, *rest = line
        extra = rest[0] if rest else {}
        built.append(LineFacts(sku, extra.pop("quantity", 1), Decimal(str(price)), **extra))
    return OrderFacts(lines=tuple(built), **kw)


def points_by_rule(evaluation) -> dict[str, int]:
    return {a.rule_id: a.points for a in evaluation.awards}
