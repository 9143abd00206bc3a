"""The points ledger: append-only entries, and balances that are always their sum.

Every entry sits in one bucket. `available` points can be spent; `pending` points are
earned but still inside a return window. Releasing pending points appends a pair of
entries (-n pending, +n available) rather than editing the earn entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import DomainError, ErrorCode
from domain.program import Evaluation, PointsAward


class EntryKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    ADJUST = "adjust"
    REVERSE = "reverse"
    EXPIRE = "expire"
    RELEASE = "release"
    REFUND = "refund"
    """Points a cancelled or expired redemption gives back."""


class Bucket(StrEnum):
    AVAILABLE = "available"
    PENDING = "pending"


MAX_ADJUSTMENT = 100_000_000

MAX_POINTS = 2**31 - 1
"""Points are a GraphQL Int (32-bit): no balance, lifetime total or award may pass this, or
every later answer about the customer would fail. A customer's available and pending
points together, and the lifetime earned, stay within it."""


@dataclass(frozen=True)
class NewEntry:
    kind: EntryKind
    bucket: Bucket
    points: int
    reason: str
    rule_id: str | None = None
    rules_version: str | None = None
    available_at: datetime | None = None
    expires_at: datetime | None = None
    variant: str | None = None
    """`experiment/variant` of the rule that earned it (PointsAward.variant)."""
    counts_toward_tier: bool = False
    """An adjustment that counts toward the tier (and the lifetime earned) like earned points."""

    @property
    def counts_as_earned(self) -> bool:
        """Whether the entry counts in the lifetime earned and toward a tier."""
        return self.kind in (EntryKind.EARN, EntryKind.REVERSE) or (
            self.kind is EntryKind.ADJUST and self.counts_toward_tier
        )


@dataclass(frozen=True)
class Balance:
    available: int = 0
    pending: int = 0
    lifetime_earned: int = 0

    def after(self, entries: Iterable[NewEntry]) -> Balance:
        available, pending, lifetime = self.available, self.pending, self.lifetime_earned
        for entry in entries:
            if entry.bucket is Bucket.AVAILABLE:
                available += entry.points
            else:
                pending += entry.points
            if entry.counts_as_earned:
                lifetime += entry.points
        balance = Balance(available, pending, lifetime)
        # The invariant the whole ledger rests on: nothing spends points it does not have.
        assert balance.available >= 0 and balance.pending >= 0, balance
        self._check_limit(balance)
        return balance

    def after_earning(self, evaluation: Evaluation) -> Balance:
        """What `after(earn_entries(evaluation, now))` gives, without building the entries:
        a dry run checks only the bound, and a realistic cart has some 70 awards (measured:
        building their entries was a twentieth of an evaluateCart's CPU)."""
        available, pending = 0, 0
        for award in evaluation.awards:
            if award.points > 0:  # as earn_entries: one EARN entry per award that gives points
                if award.pending_days > 0:
                    pending += award.points
                else:
                    available += award.points
        balance = Balance(
            self.available + available, self.pending + pending, self.lifetime_earned + available + pending
        )
        assert balance.available >= 0 and balance.pending >= 0, balance
        self._check_limit(balance)
        return balance

    def _check_limit(self, after: Balance) -> None:
        """Refuses a change that takes a total past MAX_POINTS; one that lowers a total
        already past it (written before the bound existed) is let through."""
        held, held_before = after.available + after.pending, self.available + self.pending
        if (held > MAX_POINTS and held > held_before) or (
            after.lifetime_earned > MAX_POINTS and after.lifetime_earned > self.lifetime_earned
        ):
            raise DomainError(
                ErrorCode.POINTS_LIMIT,
                f"This would take the customer's points past {MAX_POINTS:,}, the most a balance"
                f" can hold (they hold {held_before:,}, {self.lifetime_earned:,} earned in all).",
                ["points"],
            )

    @classmethod
    def of(cls, entries: Iterable[NewEntry]) -> Balance:
        return cls().after(entries)


def earn_entries(evaluation: Evaluation, now: datetime) -> list[NewEntry]:
    """One earn entry per award, so that each names the rule and version behind it."""
    entries = []
    for award in evaluation.awards:
        if award.points <= 0:
            continue
        pending = award.pending_days > 0
        entries.append(
            NewEntry(
                kind=EntryKind.EARN,
                bucket=Bucket.PENDING if pending else Bucket.AVAILABLE,
                points=award.points,
                reason=award.reason,
                rule_id=award.rule_id,
                rules_version=evaluation.rules_version,
                variant=award.variant,
                available_at=now + timedelta(days=award.pending_days) if pending else now,
                expires_at=(
                    now + timedelta(days=award.pending_days + award.expires_in_days) if award.expires_in_days else None
                ),
            )
        )
    return entries


def earned_awards(entries: Iterable[NewEntry]) -> tuple[PointsAward, ...]:
    """What each rule earned, as its earn entries record it. A recording answers with this,
    and so does its replay (from the stored entries): the two cannot differ."""
    return tuple(
        PointsAward(entry.rule_id or "", entry.points, entry.reason)
        for entry in entries
        if entry.kind is EntryKind.EARN
    )


def adjustment_entry(
    balance: Balance, points: int, reason: str, now: datetime, *, counts_toward_tier: bool = False
) -> NewEntry:
    if points == 0:
        raise DomainError(ErrorCode.ZERO_POINTS, "An adjustment must credit or debit points.", ["points"])
    if abs(points) > MAX_ADJUSTMENT:
        raise DomainError(ErrorCode.INVALID, f"An adjustment is at most {MAX_ADJUSTMENT} points.", ["points"])
    if balance.available + points < 0:
        raise DomainError(
            ErrorCode.INSUFFICIENT_POINTS,
            f"The customer has {balance.available} points available; cannot debit {-points}.",
            ["points"],
        )
    return NewEntry(
        EntryKind.ADJUST, Bucket.AVAILABLE, points, reason, available_at=now, counts_toward_tier=counts_toward_tier
    )
