from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.context import Info
from api.paging import PageInfo, page_info, page_size
from api.permissions import may_see_customer
from api.rewards.types import Redemption
from app import reads, tier_reviews
from app.clock import utcnow
from app.reads import LedgerRow
from app.redemptions import list_redemptions
from domain.customers import Customer as DomainCustomer
from domain.errors import DomainError
from domain.ledger import Balance
from domain.program import Tier as DomainTier

MAX_PAGE = 100


@strawberry.type(description="A level of the program (program.yaml `tiers`), reached by points or spend.")
class Tier:
    name: str = strawberry.field(description="As the rule files name it, e.g. gold.")
    threshold: int = strawberry.field(description="What reaching this tier takes, in its basis.")
    basis: str = strawberry.field(
        description="points (lifetime earned) or spend (lifetime, in whole units of the program currency)."
    )
    multiplier: Decimal = strawberry.field(description="Points earned in this tier are multiplied by it.")

    @classmethod
    def of(cls, tier: DomainTier) -> Tier:
        return cls(name=tier.name, threshold=tier.threshold, basis=tier.basis, multiplier=tier.multiplier)


@strawberry.type(description="A customer's balance: the sums of their ledger entries.")
class Points:
    available: int = strawberry.field(description="Points that may be spent now.")
    pending: int = strawberry.field(description="Earned points still in their return window, not yet spendable.")
    lifetime_earned: int = strawberry.field(description="Every point ever earned, less reversals: tiers count it.")

    @classmethod
    def of(cls, balance: Balance) -> Points:
        return cls(available=balance.available, pending=balance.pending, lifetime_earned=balance.lifetime_earned)


@strawberry.type(description="How far a customer is from the next tier.")
class TierProgress:
    next_tier: Tier | None = strawberry.field(description="Null at the top tier.")
    remaining: int = strawberry.field(
        description="What the next tier still needs, in its basis (points, or whole currency"
        " units of spend) over the program's qualifying window; 0 at the top tier."
    )
    next_review_at: datetime | None = strawberry.field(
        default=None,
        description="When the current tier is next reviewed (the verdict comes the program's"
        " grace days later); null when tiers never go down or at the lowest tier.",
    )
    remaining_to_keep: int | None = strawberry.field(
        default=None,
        description="What keeping the current tier at that review still needs, in its basis.",
    )


@strawberry.type(description="One change of a customer's tier.")
class TierChange:
    from_tier: str | None = strawberry.field(description="The tier before; null when there was none.")
    to_tier: str | None = strawberry.field(description="The tier after; null when none is held any more.")
    reason: str = strawberry.field(description="threshold (points or spend reached it) or review.")
    changed_at: datetime = strawberry.field(description="When it changed.")
    rules_version: str | None = strawberry.field(description="The rules version in force then.")


@strawberry.enum(description="Why a ledger entry was written.")
class LedgerEntryKind(Enum):
    EARN = strawberry.enum_value("earn", description="Points earned by an order or event, under a rule.")
    REDEEM = strawberry.enum_value("redeem", description="Points spent on a reward.")
    ADJUST = strawberry.enum_value("adjust", description="A manual credit or debit (adjustPoints).")
    REVERSE = strawberry.enum_value("reverse", description="Points taken back by a return.")
    EXPIRE = strawberry.enum_value("expire", description="Unspent points that expired.")
    RELEASE = strawberry.enum_value("release", description="Pending points made available when their day came.")
    REFUND = strawberry.enum_value("refund", description="Points given back when a redemption was cancelled.")


@strawberry.enum(description="Which part of the balance an entry moves.")
class PointsBucket(Enum):
    AVAILABLE = strawberry.enum_value("available", description="Spendable points.")
    PENDING = strawberry.enum_value("pending", description="Points waiting for their return window to end.")


# By value, as Enum's own lookup finds them, without its call per entry (a page has 20).
_KINDS: dict[str, LedgerEntryKind] = {cast(str, kind.value): kind for kind in LedgerEntryKind}
_BUCKETS: dict[str, PointsBucket] = {cast(str, bucket.value): bucket for bucket in PointsBucket}


@strawberry.type(description="One line of a customer's ledger; entries are never changed or removed.")
class LedgerEntry(relay.Node):
    kind: LedgerEntryKind = strawberry.field(description="Why it was written.")
    bucket: PointsBucket = strawberry.field(description="Which part of the balance it moves.")
    points: int = strawberry.field(description="Positive: credited; negative: debited.")
    reason: str = strawberry.field(description="For the customer to read: the rule's or the adjuster's words.")
    rule_id: str | None = strawberry.field(description="The rule that earned it, when a rule did.")
    rules_version: str | None = strawberry.field(description="The rules version in force when it was written.")
    variant: str | None = strawberry.field(
        description="experiment/variant when the rule that earned it belongs to an experiment (A/B)."
    )
    order_external_id: str | None = strawberry.field(description="The order it comes from, when one.")
    created_at: datetime = strawberry.field(description="When it was written.")
    available_at: datetime | None = strawberry.field(description="For pending points: when they become available.")
    expires_at: datetime | None = strawberry.field(description="When these points expire unless spent first.")
    entry_id: strawberry.Private[int]
    customer_external_id: strawberry.Private[str]

    @classmethod
    def of(cls, row: LedgerRow, customer_external_id: str) -> LedgerEntry:
        return cls(
            kind=_KINDS.get(row.kind) or LedgerEntryKind(row.kind),
            bucket=_BUCKETS.get(row.bucket) or PointsBucket(row.bucket),
            points=row.points,
            reason=row.reason,
            rule_id=row.rule_id,
            rules_version=row.rules_version,
            variant=row.variant,
            order_external_id=row.order_external_id,
            created_at=row.created_at,
            available_at=row.available_at,
            expires_at=row.expires_at,
            entry_id=row.id,
            customer_external_id=customer_external_id,
        )

    @classmethod
    def resolve_id(cls, root: LedgerEntry, *, info: Info) -> str:
        # The entry's id first: a customer's external id may itself hold colons.
        return f"{root.entry_id}:{root.customer_external_id}"

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[LedgerEntry | None]:
        return [await _visible_entry(info, node_id) for node_id in node_ids]


@strawberry.type(description="A ledger entry and its cursor.")
class LedgerEntryEdge:
    cursor: str = strawberry.field(description="Pass as `after` to read the entries after this one.")
    node: LedgerEntry = strawberry.field(description="The entry.")


@strawberry.type(description="A page of a customer's ledger (a Relay connection).")
class LedgerEntryConnection:
    edges: list[LedgerEntryEdge] = strawberry.field(description="The entries of this page, newest first.")
    page_info: PageInfo = strawberry.field(description="Where this page sits, and how to ask for the next.")


@strawberry.type(description="A member of the loyalty program.")
class Customer(relay.Node):
    external_id: str = strawberry.field(description="The store's own id for the customer.")
    email: str = strawberry.field(description="Where the customer is told about their points.")
    name: str | None = strawberry.field(description="As the store gave it.")
    birthday: date | None = strawberry.field(description="For birthday rewards, when known.")
    enrolled_at: datetime = strawberry.field(description="When the customer joined the program.")
    order_count: int = strawberry.field(description="Orders recorded for the customer.")
    last_order_at: datetime | None = strawberry.field(description="When the last order was placed.")
    tags: list[str] = strawberry.field(description="Segments the store set (updateCustomer); rules may test them.")
    attributes: JSON = strawberry.field(description="Custom attributes (the rule files' customer_attributes).")
    referral_code: str | None = strawberry.field(
        description="The customer's own code: a friend who gives it at enrolment is linked to this customer."
    )
    referred: bool = strawberry.field(description="Whether another customer referred this one.")
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
            attributes=cast(JSON, dict(customer.attributes)),
            referral_code=customer.referral_code,
            referred=customer.referred,
            domain=customer,
        )

    @classmethod
    def resolve_id(cls, root: Customer, *, info: Info) -> str:
        return root.external_id

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Customer | None]:
        return [await visible_customer(info, node_id) for node_id in node_ids]

    @strawberry.field(description="The balance, from the ledger.")
    def points(self) -> Points:
        return Points.of(self.domain.balance)

    @strawberry.field(description="The tier the customer holds; null when the program has none to give.")
    def tier(self, info: Info) -> Tier | None:
        name = self.domain.tier
        found = next((t for t in info.context.services.program.tiers if t.name == name), None)
        if found:
            return Tier.of(found)
        # A tier removed from the rules still names the customer's standing until review.
        return Tier(name=name, threshold=0, basis="points", multiplier=Decimal(1)) if name else None

    @strawberry.field(description="What the next tier still needs, and what keeping this one takes.")
    async def tier_progress(self, info: Info) -> TierProgress:
        services = info.context.services
        ahead, keep = await tier_reviews.progress(services.uow, services.program, self.domain, utcnow())
        return TierProgress(
            next_tier=Tier.of(ahead.next_tier) if ahead.next_tier else None,
            remaining=math.ceil(ahead.remaining),
            next_review_at=keep.review_at if keep else None,
            remaining_to_keep=math.ceil(keep.remaining) if keep else None,
        )

    @strawberry.field(description="Every change of the customer's tier, oldest first.")
    async def tier_history(self, info: Info) -> list[TierChange]:
        return [
            TierChange(
                from_tier=c.from_tier,
                to_tier=c.to_tier,
                reason=c.reason,
                changed_at=c.changed_at,
                rules_version=c.rules_version,
            )
            for c in await tier_reviews.tier_history(info.context.services.uow, self.external_id)
        ]

    @strawberry.field(description="The customer's redemptions, newest first (at most 100).")
    async def redemptions(
        self,
        info: Info,
        active_only: Annotated[
            bool, strawberry.argument(description="Only the redemptions whose code may still be used.")
        ] = False,
        first: Annotated[int, strawberry.argument(description=f"How many, 1 to {MAX_PAGE}.")] = 20,
    ) -> list[Redemption]:
        found = await list_redemptions(
            info.context.services.uow, self.external_id, active_only, page_size(first, MAX_PAGE)
        )
        return [Redemption.of(r) for r in found]

    @strawberry.field(description="The customer's ledger entries, newest first.")
    async def ledger(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description=f"How many entries, 1 to {MAX_PAGE}.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="A cursor: the entries after it (endCursor of a page).")
        ] = None,
    ) -> LedgerEntryConnection:
        first = page_size(first, MAX_PAGE)
        rows, more = await reads.ledger_page(info.context.services.uow, self.external_id, first, after)
        edges = [
            LedgerEntryEdge(cursor=reads.encode_cursor(row.id), node=LedgerEntry.of(row, self.external_id))
            for row in rows
        ]
        return LedgerEntryConnection(
            edges=edges,
            page_info=page_info(edges, more=more, after=after),
        )


async def visible_customer(info: Info, external_id: str) -> Customer | None:
    """The customer, when it exists and the caller may see it (node(id:) answers null
    otherwise, as Relay's servers do, rather than telling which ids exist)."""
    if not may_see_customer(info, external_id):
        return None
    try:
        return Customer.of(await reads.get_customer(info.context.services.uow, external_id))
    except DomainError:
        return None


async def _visible_entry(info: Info, node_id: str) -> LedgerEntry | None:
    entry, _, customer = node_id.partition(":")
    if not entry.isdigit() or len(entry) > 18 or not customer or not may_see_customer(info, customer):
        return None
    try:
        # The customer's ledger page that starts at this entry (pages run newest first,
        # strictly before their cursor): the read every ledger page makes, no other query.
        rows, _ = await reads.ledger_page(info.context.services.uow, customer, 1, reads.encode_cursor(int(entry) + 1))
    except DomainError:
        return None
    return LedgerEntry.of(rows[0], customer) if rows and rows[0].id == int(entry) else None
