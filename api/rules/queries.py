from __future__ import annotations

import strawberry

from api.context import Info
from api.permissions import any_scope
from api.rules.types import RulesVersion
from app import rules_admin
from domain.auth import Scope


@strawberry.type
class RulesQueries:
    # Any API key: every scope's tooling needs to know which version it talks to.
    @strawberry.field(
        description="The rules version in force, its tiers and rewards.",
        permission_classes=[any_scope(*Scope)],
    )
    async def rules_version(self, info: Info) -> RulesVersion:
        return RulesVersion.of(await rules_admin.rules_version(info.context.services.uow, info.context.services.rules))
