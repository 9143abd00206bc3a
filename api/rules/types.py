from __future__ import annotations

from datetime import datetime

import strawberry

from api.customers.types import Tier
from api.errors import UserErrorCode, error_code
from app.rules_admin import RulesVersionInfo
from domain.errors import ErrorCode
from domain.program import Reward as DomainReward
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


@strawberry.type(description="What the reward catalogue offers in exchange for points.")
class Reward:
    id: str
    name: str
    kind: str = strawberry.field(
        description="fixed_discount, percentage_discount, free_shipping, free_product or cashback."
    )
    points_cost: int
    tiers: list[str] = strawberry.field(description="Only these tiers may redeem it; empty: every tier.")

    @classmethod
    def of(cls, reward: DomainReward) -> Reward:
        return cls(
            id=reward.id, name=reward.name, kind=reward.kind, points_cost=reward.points_cost, tiers=list(reward.tiers)
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
            rewards=[Reward.of(r) for r in info.rewards],
        )
