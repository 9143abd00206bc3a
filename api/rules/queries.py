from __future__ import annotations

from typing import Annotated

import strawberry

from api.context import Info
from api.errors import user_errors
from api.permissions import any_scope
from api.rules.types import RuleFileError, RulesSimulation, RulesVersion, SimulateRulesInput, SimulateRulesResult
from app import rules_admin, simulation
from app.clock import utcnow
from domain.auth import Scope
from domain.errors import DomainError
from rules import RuleFileErrors


@strawberry.type
class RulesQueries:
    # Any API key: every scope's tooling needs to know which version it talks to.
    @strawberry.field(
        description="The rules version in force, its tiers and rewards.",
        permission_classes=[any_scope(*Scope)],
    )
    async def rules_version(self, info: Info) -> RulesVersion:
        return RulesVersion.of(await rules_admin.rules_version(info.context.services.uow, info.context.services.rules))

    @strawberry.field(
        description="A backtest before going live: the orders and events recorded in a period, replayed under"
        " candidate rule files and under the version in force, compared rule by rule. Nothing is written;"
        " docs/rules.md (Backtests) says what a replay can and cannot know.",
        permission_classes=[any_scope(Scope.ADMIN)],
    )
    async def simulate_rules(
        self,
        info: Info,
        input: Annotated[SimulateRulesInput, strawberry.argument(description="The candidate's files and the period.")],
    ) -> SimulateRulesResult:
        services = info.context.services
        current = services.program  # one version for the whole replay
        try:
            sources = simulation.candidate_files([(file.path, file.content) for file in input.files])
            span = simulation.period(input.since, input.until or utcnow())
        except DomainError as error:
            return SimulateRulesResult(errors=user_errors(error))
        try:
            candidate = await simulation.load_candidate(sources)
        except RuleFileErrors as errors:
            return SimulateRulesResult(rule_errors=[RuleFileError.of(e) for e in errors.errors])
        result = await simulation.simulate_rules(services.uow, current, candidate, span)
        return SimulateRulesResult(simulation=RulesSimulation.of(result))
