from __future__ import annotations

from datetime import datetime

import strawberry

from api.customers.types import Tier
from api.errors import UserErrorCode, error_code
from api.rewards.types import Reward
from app.rules_admin import RulesVersionInfo
from domain.errors import ErrorCode
from rules import RuleError


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
