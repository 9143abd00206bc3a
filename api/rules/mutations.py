from __future__ import annotations

import strawberry

from api.context import Info
from api.permissions import any_scope
from api.rules.types import RuleFileError
from app import rules_admin
from domain.auth import Scope


@strawberry.type
class ReloadRulesPayload:
    version: str | None = strawberry.field(
        default=None, description="The version in force after the call: the old one when there are errors."
    )
    activated: bool = strawberry.field(
        default=False, description="True when this call put a different version in force."
    )
    errors: list[RuleFileError] = strawberry.field(default_factory=list)


@strawberry.type
class RulesMutations:
    @strawberry.mutation(
        description="Validates the rules folder and activates it; on any error the rules in force stay.",
        permission_classes=[any_scope(Scope.RULES_WRITE)],
    )
    async def reload_rules(self, info: Info) -> ReloadRulesPayload:
        result = await rules_admin.reload_rules(info.context.services.rules)
        return ReloadRulesPayload(
            version=result.version,
            activated=result.activated,
            errors=[RuleFileError.of(e) for e in result.errors],
        )
