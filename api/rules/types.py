from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from api.customers.types import Tier
from api.errors import UserError, UserErrorCode, error_code
from api.rewards.types import Reward
from api.scalars import Money
from app.rules_admin import RulesVersionInfo
from app.simulation import Simulation
from domain.errors import ErrorCode
from rules import RuleError, backtest


@strawberry.type(
    description="A problem in a rule file. Reads as a UserError (field, code, message) and says"
    " where to fix it: file, line and column, 1-based as editors show them."
)
class RuleFileError:
    field: list[str] | None = strawberry.field(description="Always null: the problem is in a file, not the input.")
    code: UserErrorCode  # type: ignore[valid-type]
    message: str = strawberry.field(description="`file:line:column: what is wrong`.")
    file: str = strawberry.field(description="Path relative to the rules folder.")
    line: int
    column: int
    rule_id: str | None

    @classmethod
    def of(cls, error: RuleError) -> RuleFileError:
        return cls(
            field=None,
            code=error_code(ErrorCode.RULES_INVALID),
            message=str(error),
            file=error.file,
            line=error.line,
            column=error.col,
            rule_id=error.rule_id,
        )


@strawberry.type(description="The rules version in force, with its tiers and reward catalogue.")
class RulesVersion:
    version: str
    activated_at: datetime | None = strawberry.field(description="When this version was first activated.")
    tiers: list[Tier]
    rewards: list[Reward]

    @classmethod
    def of(cls, info: RulesVersionInfo) -> RulesVersion:
        return cls(
            version=info.version,
            activated_at=info.activated_at,
            tiers=[Tier.of(t) for t in info.tiers],
            rewards=[Reward.of(r, info.currency) for r in info.rewards],
        )


@strawberry.input(description="One file of a candidate rules folder.")
class RuleFileInput:
    path: str = strawberry.field(
        description="Relative to the folder, with `/` between folders (`earning.yaml`, `campaigns/summer.yaml`);"
        " files that are not rule files (scenarios, other suffixes) are ignored, as a folder's are."
    )
    content: str = strawberry.field(description="The file's YAML text.")


@strawberry.input(description="The candidate rules and the period whose recorded orders and events are replayed.")
class SimulateRulesInput:
    files: list[RuleFileInput] = strawberry.field(
        description="Every rule file of the candidate folder: an API client has no access to the server's folders."
    )
    since: datetime | None = strawberry.field(
        default=None, description="Start of the period, included; by default 90 days before `until`."
    )
    until: datetime | None = strawberry.field(default=None, description="End of the period, excluded; by default now.")


@strawberry.type(description="What one rule did, or all rules together did, over the period under one version.")
class RuleFigures:
    fired: int = strawberry.field(
        description="Orders and events the rule applied to (in a total: those some rule applied to)."
    )
    points: int = strawberry.field(description="Points awarded.")
    discounts: Money = strawberry.field(description="Discounts given, in the program currency.")

    @classmethod
    def of(cls, figures: backtest.RuleFigures, currency: str) -> RuleFigures:
        return cls(
            fired=figures.fired, points=figures.points, discounts=Money(amount=figures.discounts, currency=currency)
        )


@strawberry.type(description="A rule under the version in force and under the candidate.")
class SimulatedRule:
    rule_id: str = strawberry.field(description="The rule's id in the rule files.")
    in_force: RuleFigures | None = strawberry.field(
        description="Under the version in force; null when that version has no such rule."
    )
    candidate: RuleFigures | None = strawberry.field(description="Under the candidate; null when it has no such rule.")
    fired_change: int = strawberry.field(description="Candidate's `fired` less the version in force's.")
    points_change: int = strawberry.field(description="Candidate's points less the version in force's.")
    discounts_change: Money = strawberry.field(description="Candidate's discounts less the version in force's.")


@strawberry.type(description="All rules together, under each version.")
class SimulationTotals:
    in_force: RuleFigures = strawberry.field(description="Under the version in force.")
    candidate: RuleFigures = strawberry.field(description="Under the candidate.")
    fired_change: int = strawberry.field(description="Candidate's `fired` less the version in force's.")
    points_change: int = strawberry.field(description="Candidate's points less the version in force's.")
    discounts_change: Money = strawberry.field(description="Candidate's discounts less the version in force's.")


@strawberry.type(
    description="A backtest: the orders and events recorded in the period, replayed under the candidate and under"
    " the version in force, rule by rule. Nothing was written."
)
class RulesSimulation:
    since: datetime = strawberry.field(description="Start of the period, included.")
    until: datetime = strawberry.field(description="End of the period, excluded.")
    orders: int = strawberry.field(description="Orders placed in the period, replayed.")
    events: int = strawberry.field(description="Engagement events of the period, replayed.")
    in_force_version: str = strawberry.field(description="The rules version in force.")
    candidate_version: str = strawberry.field(description="The candidate's version (the hash of its files).")
    refused_in_force: int = strawberry.field(
        description="Orders the version in force would refuse to evaluate (more skus tested by no_line than it takes)."
    )
    refused_candidate: int = strawberry.field(description="Orders the candidate would refuse to evaluate.")
    rules: list[SimulatedRule] = strawberry.field(
        description="The candidate's rules in folder order, then those of the version in force it drops."
    )
    total: SimulationTotals = strawberry.field(description="All rules together.")
    notes: list[str] = strawberry.field(
        description="What the replay cannot know: limits and budgets are evaluated without usage, and so on."
    )

    @classmethod
    def of(cls, result: Simulation) -> RulesSimulation:
        currency = result.currency

        def money(amount: Decimal) -> Money:
            return Money(amount=amount, currency=currency)

        return cls(
            since=result.period.since,
            until=result.period.until,
            orders=result.orders,
            events=result.events,
            in_force_version=result.current_version,
            candidate_version=result.candidate_version,
            refused_in_force=result.refused_current,
            refused_candidate=result.refused_candidate,
            rules=[
                SimulatedRule(
                    rule_id=rule.rule_id,
                    in_force=RuleFigures.of(rule.current, currency) if rule.in_force else None,
                    candidate=RuleFigures.of(rule.candidate, currency) if rule.in_candidate else None,
                    fired_change=rule.fired_change,
                    points_change=rule.points_change,
                    discounts_change=money(rule.discounts_change),
                )
                for rule in result.rules
            ],
            total=SimulationTotals(
                in_force=RuleFigures.of(result.current_total, currency),
                candidate=RuleFigures.of(result.candidate_total, currency),
                fired_change=result.candidate_total.fired - result.current_total.fired,
                points_change=result.candidate_total.points - result.current_total.points,
                discounts_change=money(result.candidate_total.discounts - result.current_total.discounts),
            ),
            notes=list(result.notes),
        )


@strawberry.type(description="A backtest's answer: the simulation, or why there is none.")
class SimulateRulesResult:
    simulation: RulesSimulation | None = strawberry.field(default=None, description="Null when there are errors.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Problems in the input itself: the period, the files' paths."
    )
    rule_errors: list[RuleFileError] = strawberry.field(
        default_factory=list, description="Problems in the candidate's files: it does not load."
    )
