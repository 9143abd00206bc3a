from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import strawberry

from api.context import Info
from api.customers.cursors import decode_cursor, encode_cursor
from app import reads
from domain import tiers
from domain.customers import Customer as DomainCustomer
from domain.ledger import Balance
from domain.program import Tier as DomainTier

MAX_PAGE = 100


@strawberry.type
class Tier:
    name: str
    threshold: int
    basis: str
    multiplier: Decimal

    @classmethod
    def of(cls, tier: DomainTier) -> Tier:
        return cls(name=tier.name, threshold=tier.threshold, basis=tier.basis, multiplier=tier.multiplier)


@strawberry.type
class Points:
    available: int
    pending: int
    lifetime_earned: int

    @classmethod
    def of(cls, balance: Balance) -> Points:
        return cls(available=balance.available, pending=balance.pending, lifetime_earned=balance.lifetime_earned)


@strawberry.type
class TierProgress:
    next_tier: Tier | None
    remaining: int = strawberry.field(
        description="What the next tier still needs, in its basis (points, or whole currency"
        " units of spend); 0 at the top tier."
    )


@strawberry.enum
class LedgerEntryKind(Enum):
    EARN = "earn"
    REDEEM = "redeem"
    ADJUST = "adjust"
    REVERSE = "reverse"
    EXPIRE = "expire"
    RELEASE = "release"


@strawberry.enum
class PointsBucket(Enum):
    AVAILABLE = "available"
    PENDING = "pending"


@strawberry.type
class LedgerEntry:
    kind: LedgerEntryKind
    bucket: PointsBucket
    points: int
    reason: str
    rule_id: str | None
    rules_version: str | None
    order_external_id: str | None
    created_at: datetime
    available_at: datetime | None
    expires_at: datetime | None


@strawberry.type
class LedgerEntryEdge:
    cursor: str
    node: LedgerEntry


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class LedgerEntryConnection:
    edges: list[LedgerEntryEdge]
    page_info: PageInfo


@strawberry.type
class Customer:
    external_id: str
    email: str
    name: str | None
    birthday: date | None
    enrolled_at: datetime
    order_count: int
    last_order_at: datetime | None
    tags: list[str]
    domain: strawberry.Private[DomainCustomer]

    @classmethod
    def of(cls, customer: DomainCustomer) -> Customer:
        return cls(
            external_id=customer.external_id,
            email=customer.email,
            name=customer.name,
            birthday=customer.birthday,
            enrolled_at=customer.enrolled_at,
            order_count=customer.order_count,
            last_order_at=customer.last_order_at,
            tags=list(customer.tags),
            domain=customer,
        )

    @strawberry.field
    def points(self) -> Points:
        return Points.of(self.domain.balance)

    @strawberry.field
    def tier(self, info: Info) -> Tier | None:
        name = self.domain.tier
        found = next((t for t in info.context.services.program.tiers if t.name == name), None)
        if found:
            return Tier.of(found)
        # A tier removed from the rules still names the customer's standing until review.
        return Tier(name=name, threshold=0, basis="points", multiplier=Decimal(1)) if name else None

    @strawberry.field
    def tier_progress(self, info: Info) -> TierProgress:
        p = tiers.progress(
            info.context.services.program.tiers,
            self.domain.balance.lifetime_earned,
            self.domain.lifetime_spend,
        )
        return TierProgress(
            next_tier=Tier.of(p.next_tier) if p.next_tier else None,
            remaining=math.ceil(p.remaining),
        )

    @strawberry.field(description="Newest entries first.")
    async def ledger(self, info: Info, first: int = 20, after: str | None = None) -> LedgerEntryConnection:
        first = max(0, min(first, MAX_PAGE))
        before = decode_cursor(after) if after else None
        rows, more = await reads.ledger_page(info.context.services.uow, self.external_id, first, before)
        edges = [
            LedgerEntryEdge(
                cursor=encode_cursor(row.id),
                node=LedgerEntry(
                    kind=LedgerEntryKind(row.kind),
                    bucket=PointsBucket(row.bucket),
                    points=row.points,
                    reason=row.reason,
                    rule_id=row.rule_id,
                    rules_version=row.rules_version,
                    order_external_id=row.order_external_id,
                    created_at=row.created_at,
                    available_at=row.available_at,
                    expires_at=row.expires_at,
                ),
            )
            for row in rows
        ]
        return LedgerEntryConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )
