"""Redeeming rewards: who may redeem what now (and why not), which points pay for it, and
the coupon code a redemption gives.

Points are spent from the available bucket only, never pending, from the customer's
*lots*: what each earn entry still holds. The lots that expire soonest are spent first
(then the oldest), and every lot a redemption takes from is recorded, so that the expiry
job never expires points that were spent, and a refund puts points back in the lots they
came from (with their own expiry). Lots already past their expiry are not spendable:
the expiry job takes them on its next run.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.errors import DomainError, ErrorCode
from domain.ledger import Bucket, EntryKind, NewEntry
from domain.program import RedeemedReward, Reward

# Crockford's base32: no I, L, O or U, so a code read aloud or typed is not mistaken.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_PREFIX = "RW"
CODE_CHARS = 20
"""20 base32 characters: 100 random bits (the issue asks for at least 80)."""


def new_code() -> str:
    """`RW-XXXXX-XXXXX-XXXXX-XXXXX` from the operating system's CSPRNG."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_CHARS))
    return "-".join([CODE_PREFIX, *(chars[i : i + 5] for i in range(0, CODE_CHARS, 5))])


def normalize_code(code: str) -> str:
    """Coupon codes match case-insensitively, like the rules' plain coupons."""
    return code.strip().upper()


def looks_like_redemption_code(code: str) -> bool:
    return normalize_code(code).startswith(CODE_PREFIX + "-")


class Block(StrEnum):
    """Why a customer cannot redeem a reward now; stable codes clients can branch on."""

    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    TIER = "TIER"
    MIN_ORDER = "MIN_ORDER"
    LIMIT_REACHED = "LIMIT_REACHED"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    NOT_YET_VALID = "NOT_YET_VALID"
    NO_LONGER_VALID = "NO_LONGER_VALID"


@dataclass(frozen=True)
class Reason:
    block: Block
    message: str
    points_missing: int | None = None
    amount_missing: Decimal | None = None
    """For MIN_ORDER: what the order still needs, in the program currency."""


@dataclass(frozen=True)
class Standing:
    """What decides a customer's eligibility besides the reward itself, read together."""

    tier: str | None
    spendable: int
    pending: int = 0
    uses: int = 0
    """Redemptions of this reward (not cancelled, not expired) in its current limit period."""
    stock_left: int | None = None
    order_subtotal: Decimal | None = None
    """Only when the caller names a cart: the minimum order is checked against it."""


def reasons_not_redeemable(reward: Reward, standing: Standing, now: datetime) -> list[Reason]:
    """Every reason the customer cannot redeem the reward now; empty when they can."""
    reasons: list[Reason] = []
    if reward.valid_from is not None and now < reward.valid_from:
        reasons.append(Reason(Block.NOT_YET_VALID, f"can be redeemed from {reward.valid_from.isoformat()}"))
    if reward.valid_until is not None and now >= reward.valid_until:
        reasons.append(Reason(Block.NO_LONGER_VALID, f"could be redeemed until {reward.valid_until.isoformat()}"))
    if reward.tiers and standing.tier not in reward.tiers:
        reasons.append(Reason(Block.TIER, f"only for tiers {', '.join(reward.tiers)}"))
    if reward.min_order is not None and standing.order_subtotal is not None:
        if standing.order_subtotal < reward.min_order:
            reasons.append(
                Reason(
                    Block.MIN_ORDER,
                    f"needs an order of at least {reward.min_order}",
                    amount_missing=reward.min_order - standing.order_subtotal,
                )
            )
    if reward.limit_per_customer is not None and standing.uses >= reward.limit_per_customer:
        period = "" if reward.limit_period == "all_time" else f" per {reward.limit_period}"
        reasons.append(
            Reason(Block.LIMIT_REACHED, f"limit reached: {standing.uses} of {reward.limit_per_customer}{period}")
        )
    if standing.stock_left is not None and standing.stock_left <= 0:
        reasons.append(Reason(Block.OUT_OF_STOCK, "out of stock"))
    if standing.spendable < reward.points_cost:
        missing = reward.points_cost - standing.spendable
        pending = f" ({standing.pending} more are pending)" if standing.pending else ""
        reasons.append(
            Reason(
                Block.INSUFFICIENT_POINTS,
                f"needs {reward.points_cost} points; {standing.spendable} are available{pending}, {missing} missing",
                missing,
            )
        )
    return reasons


# What the customer can still change at checkout: more points (by earning) and a larger
# cart. A tier, a limit, a stock or a date is not theirs to change, so a reward blocked by
# one of those is not shown as "almost there".
_WITHIN_REACH = frozenset({Block.INSUFFICIENT_POINTS, Block.MIN_ORDER})


def just_out_of_reach(reasons: Sequence[Reason]) -> bool:
    """Blocked, but only by points still missing or by an order below the minimum."""
    return bool(reasons) and all(r.block in _WITHIN_REACH for r in reasons)


def nearest_first(reasons: Sequence[Reason]) -> tuple[int, Decimal]:
    """Sort key for rewards out of reach: the fewest points missing, then the least amount."""
    points = sum(r.points_missing or 0 for r in reasons)
    amount = sum((r.amount_missing or Decimal(0) for r in reasons), Decimal(0))
    return points, amount


_ERROR_CODES = {
    Block.INSUFFICIENT_POINTS: ErrorCode.INSUFFICIENT_POINTS,
    Block.OUT_OF_STOCK: ErrorCode.OUT_OF_STOCK,
}


def check_redeemable(reward: Reward, standing: Standing, now: datetime) -> None:
    """Raises the first reason as a DomainError (INSUFFICIENT_POINTS, OUT_OF_STOCK, or
    REWARD_NOT_REDEEMABLE for tier, limit and validity)."""
    reasons = reasons_not_redeemable(reward, standing, now)
    if reasons:
        first = reasons[0]
        code = _ERROR_CODES.get(first.block, ErrorCode.REWARD_NOT_REDEEMABLE)
        raise DomainError(code, f"Reward '{reward.id}' cannot be redeemed: {first.message}.", ["reward_id"])


# ---- paying with points ---------------------------------------------------------------------


@dataclass(frozen=True)
class Lot:
    """What an earn entry still holds in the available bucket (less what redemptions took)."""

    entry_id: int
    points: int
    expires_at: datetime | None


def _spending_order(lot: Lot) -> tuple[bool, datetime, int]:
    return (lot.expires_at is None, lot.expires_at or datetime.min, lot.entry_id)


def spendable_points(available: int, lots: Sequence[Lot], now: datetime) -> int:
    """Available points less those of lots already past their expiry (the expiry job's)."""
    lapsed = sum(max(lot.points, 0) for lot in lots if lot.expires_at is not None and lot.expires_at <= now)
    return max(0, available - lapsed)


def plan_spending(cost: int, available: int, lots: Sequence[Lot], now: datetime) -> list[tuple[int, int]]:
    """(earn entry id, points) to take, soonest expiry first, then oldest. Points beyond
    the lots (manual credits, which never expire) are spent untraced."""
    assert 0 < cost <= spendable_points(available, lots, now), (cost, available)
    taken: list[tuple[int, int]] = []
    left = cost
    for lot in sorted(lots, key=_spending_order):
        if left == 0:
            break
        if lot.points <= 0 or (lot.expires_at is not None and lot.expires_at <= now):
            continue
        take = min(lot.points, left)
        taken.append((lot.entry_id, take))
        left -= take
    return taken


@dataclass(frozen=True)
class SpentLot:
    entry_id: int
    points: int
    expires_at: datetime | None


def points_to_restore(spent: Sequence[SpentLot], untraced: int, now: datetime) -> tuple[list[SpentLot], int, int]:
    """What a refund gives back: the lots not yet expired, and the untraced points. Points
    of lots that expired while the redemption held them lapse, as they would have.
    Returns (lots restored, points refunded, points lapsed)."""
    restored = [lot for lot in spent if lot.expires_at is None or lot.expires_at > now]
    lapsed = sum(lot.points for lot in spent) - sum(lot.points for lot in restored)
    return restored, sum(lot.points for lot in restored) + untraced, lapsed


def redeem_entry(reward: Reward, what: str, now: datetime) -> NewEntry:
    reason = f"Redeemed {reward.name} ({what})"
    return NewEntry(EntryKind.REDEEM, Bucket.AVAILABLE, -reward.points_cost, reason, available_at=now)


def refund_entry(points: int, why: str, now: datetime) -> NewEntry:
    assert points >= 0, points
    return NewEntry(EntryKind.REFUND, Bucket.AVAILABLE, points, why, available_at=now)


# ---- redemptions ----------------------------------------------------------------------------


class RedemptionState(StrEnum):
    ACTIVE = "active"
    """Its code can be used on an order."""
    USED = "used"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Redemption:
    id: int
    code: str
    customer_external_id: str
    reward: RedeemedReward
    reward_name: str
    points_spent: int
    state: RedemptionState
    created_at: datetime
    expires_at: datetime
    currency: str
    request_hash: str
    order_external_id: str | None = None

    def usable_by(self, customer_external_id: str, now: datetime) -> None:
        """Raises unless this customer may use the code on an order now."""
        if self.customer_external_id != customer_external_id:
            raise DomainError(
                ErrorCode.COUPON_NOT_YOURS, f"Coupon code '{self.code}' belongs to another customer.", ["coupon_codes"]
            )
        if self.state is RedemptionState.USED:
            raise DomainError(
                ErrorCode.COUPON_USED,
                f"Coupon code '{self.code}' was already used (order '{self.order_external_id}').",
                ["coupon_codes"],
            )
        if self.state is RedemptionState.CANCELLED:
            raise DomainError(ErrorCode.COUPON_CANCELLED, f"Coupon code '{self.code}' was cancelled.", ["coupon_codes"])
        if self.state is RedemptionState.EXPIRED or now >= self.expires_at:
            raise DomainError(
                ErrorCode.COUPON_EXPIRED,
                f"Coupon code '{self.code}' expired at {self.expires_at.isoformat()}.",
                ["coupon_codes"],
            )


def redemption_expiry(reward: Reward, now: datetime) -> datetime:
    return now + timedelta(days=reward.expires_in_days)


def redemption_request_hash(reward_id: str, customer_external_id: str) -> str:
    """Same request, same digest: how a retry is told from another use of the key."""
    body = {"reward": reward_id, "customer": customer_external_id}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def redeemed_reward(reward: Reward, code: str) -> RedeemedReward:
    return RedeemedReward(
        code=code, reward_id=reward.id, kind=reward.kind, value=reward.value, sku=reward.sku, min_order=reward.min_order
    )
