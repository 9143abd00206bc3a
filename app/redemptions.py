"""Spending points: the reward catalogue as a customer sees it, redeeming a reward for a
coupon code, cancelling a redemption, and the coupon codes an order or a cart carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from app.clock import utcnow
from app.events import POINTS_REDEEMED, POINTS_REFUNDED, REWARD_REDEEMED, balance_payload
from app.idempotency import conflict, record_once
from domain import validation
from domain.customers import Customer
from domain.errors import DomainError, ErrorCode
from domain.money import parse_amount
from domain.orders import ValidOrder
from domain.program import OrderFacts, Reward
from domain.rewards import (
    Reason,
    Redemption,
    RedemptionState,
    Standing,
    check_redeemable,
    just_out_of_reach,
    looks_like_redemption_code,
    nearest_first,
    new_code,
    normalize_code,
    plan_spending,
    points_to_restore,
    reasons_not_redeemable,
    redeem_entry,
    redemption_expiry,
    redemption_request_hash,
    refund_entry,
    spendable_points,
)
from persistence.entries import LinkedEntry
from persistence.redemptions import StoredRedemption
from persistence.rows import CustomerRow
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program

# ---- the catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueItem:
    reward: Reward
    stock_left: int | None
    reasons: tuple[Reason, ...] | None
    """None without a customer; empty when the customer can redeem it now."""


async def catalogue(
    uow: UnitOfWork, program: Program, customer_external_id: str | None, order_subtotal: Decimal | None = None
) -> list[CatalogueItem]:
    """Every reward of the rules in force; for a customer, whether they can redeem each now."""
    async with uow.reading() as session:
        return await _catalogue(session, program, customer_external_id, order_subtotal)


async def _catalogue(
    session: Session, program: Program, customer_external_id: str | None, order_subtotal: Decimal | None
) -> list[CatalogueItem]:
    now = utcnow()
    rewards = program.rewards
    if customer_external_id is None:
        stock = await session.redemptions.stock_left(rewards)
        return [CatalogueItem(r, stock.get(r.id), None) for r in rewards]
    validation.external_id(customer_external_id, ["customer_external_id"])
    row = await session.customers.read_customer(customer_external_id, ["customer_external_id"])
    subtotal = None if order_subtotal is None else parse_amount(str(order_subtotal), None, ["order_subtotal"])
    customer = session.customers.to_customer(row)
    return (await _standings(session, program, rewards, row.id, customer, now)).judge(rewards, subtotal, now)


@dataclass(frozen=True)
class _Standings:
    """What a customer's eligibility reads from the database, read once for every reward."""

    customer: Customer
    spendable: int
    used: dict[str, int]
    stock: dict[str, int]

    def judge(self, rewards: Sequence[Reward], subtotal: Decimal | None, now: datetime) -> list[CatalogueItem]:
        """Each reward with every reason the customer cannot redeem it now (for an order of
        `subtotal`, in the program currency, when one is named)."""
        items = []
        for reward in rewards:
            stock_left = self.stock.get(reward.id)
            standing = _standing(self.customer, self.spendable, self.used.get(reward.id, 0), stock_left, subtotal)
            items.append(CatalogueItem(reward, stock_left, tuple(reasons_not_redeemable(reward, standing, now))))
        return items


async def _standings(
    session: Session, program: Program, rewards: Sequence[Reward], customer_id: int, customer: Customer, now: datetime
) -> _Standings:
    return _Standings(
        customer,
        spendable_points(customer.balance.available, await session.redemptions.lots(customer_id), now),
        await session.redemptions.uses(customer_id, _limit_periods(program, rewards, now)),
        await session.redemptions.stock_left(rewards),
    )


@dataclass(frozen=True)
class CartReward:
    item: CatalogueItem
    """The reward as the catalogue shows it to the customer, without a cart."""
    reasons: tuple[Reason, ...]
    """Why it cannot be redeemed and used on this cart; empty when it can."""


@dataclass(frozen=True)
class CartRewards:
    redeemable: tuple[CartReward, ...] = ()
    """Rewards the customer can redeem now and use on this cart."""
    out_of_reach: tuple[CartReward, ...] = ()
    """Rewards blocked only by points still missing or by the cart's subtotal, nearest first."""


async def rewards_for_cart(
    session: Session, program: Program, customer_id: int, customer: Customer, subtotal: Decimal, now: datetime
) -> CartRewards:
    """The catalogue judged for this customer and a cart of `subtotal` (program currency)."""
    rewards = program.rewards
    if not rewards:
        return CartRewards()
    standings = await _standings(session, program, rewards, customer_id, customer, now)
    # Both views: a client's cache keeps one Reward per id, so the reward itself is the
    # catalogue's view, and this cart's verdict is beside it.
    on_cart = zip(standings.judge(rewards, None, now), standings.judge(rewards, subtotal, now), strict=True)
    judged = [CartReward(item, cart_view.reasons or ()) for item, cart_view in on_cart]
    near = [r for r in judged if just_out_of_reach(r.reasons)]
    return CartRewards(
        redeemable=tuple(r for r in judged if not r.reasons),
        out_of_reach=tuple(sorted(near, key=lambda r: nearest_first(r.reasons))),
    )


def _limit_periods(program: Program, rewards: Sequence[Reward], now: datetime) -> dict[str, datetime | None]:
    return {r.id: program.period_start(r.limit_period, now) for r in rewards if r.limit_per_customer is not None}


def _standing(
    customer: Customer, spendable: int, uses: int, stock_left: int | None, subtotal: Decimal | None = None
) -> Standing:
    return Standing(
        tier=customer.tier,
        spendable=spendable,
        pending=customer.balance.pending,
        uses=uses,
        stock_left=stock_left,
        order_subtotal=subtotal,
    )


async def find_redemption(uow: UnitOfWork, redemption_id: int) -> Redemption | None:
    async with uow.reading() as session:
        found = await session.redemptions.find_by_id(redemption_id)
    return found.redemption if found else None


async def list_redemptions(
    uow: UnitOfWork, customer_external_id: str, active_only: bool, first: int
) -> list[Redemption]:
    """Newest first; `active_only`: those whose code can still be used."""
    async with uow.reading() as session:
        stored = await session.redemptions.of_customer(customer_external_id, active_only, first)
    return [s.redemption for s in stored]


# ---- redeeming ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RedeemResult:
    redemption: Redemption
    replayed: bool


MAX_KEY_LENGTH = 128


async def redeem_reward(
    uow: UnitOfWork, program: Program, reward_id: str, customer_external_id: str, idempotency_key: str | None
) -> RedeemResult:
    """Spends the reward's cost from available points (never pending) and returns a
    redemption with a fresh coupon code. With a key, a retry returns the first redemption;
    the key with another reward or customer is IDEMPOTENCY_CONFLICT."""
    validation.external_id(customer_external_id, ["customer_external_id"])
    reward_id = validation.text(reward_id, ["reward_id"], 128, required=True) or ""
    key = validation.text(idempotency_key, ["idempotency_key"], MAX_KEY_LENGTH)
    request_hash = redemption_request_hash(reward_id, customer_external_id)

    def replay(existing: StoredRedemption) -> RedeemResult:
        if existing.redemption.request_hash != request_hash:
            raise conflict("Redemption with idempotency key", key or "", ["idempotency_key"])
        return RedeemResult(existing.redemption, replayed=True)

    async def find() -> StoredRedemption | None:
        if not key:
            return None
        async with uow.reading() as session:
            return await session.redemptions.find_by_key(key)

    if key and (existing := await find()):
        return replay(existing)
    reward = program.reward(reward_id)
    if reward is None:
        raise DomainError(ErrorCode.REWARD_NOT_FOUND, f"No reward has the id '{reward_id}'.", ["reward_id"])
    return await record_once(
        lambda: _redeem(uow, program, reward, customer_external_id, key, request_hash), find, replay
    )


async def _redeem(
    uow: UnitOfWork, program: Program, reward: Reward, customer_external_id: str, key: str | None, request_hash: str
) -> RedeemResult:
    now = utcnow()
    async with uow.transaction() as session:
        row = await session.customers.lock_customer(customer_external_id, ["customer_external_id"])
        customer = session.customers.to_customer(row)
        lots = await session.redemptions.lots(row.id)
        spendable = spendable_points(customer.balance.available, lots, now)
        used = await session.redemptions.uses(row.id, _limit_periods(program, [reward], now))
        stock_left = await session.redemptions.lock_stock(reward) if reward.stock is not None else None
        check_redeemable(reward, _standing(customer, spendable, used.get(reward.id, 0), stock_left), now)
        taken = plan_spending(reward.points_cost, customer.balance.available, lots, now)
        code = new_code()
        expires_at = redemption_expiry(reward, now)
        redemption_id = await session.redemptions.insert(
            row.id,
            reward,
            code=code,
            currency=program.settings.currency,
            untraced=reward.points_cost - sum(points for _, points in taken),
            rules_version=program.version,
            idempotency_key=key,
            request_hash=request_hash,
            now=now,
            expires_at=expires_at,
        )
        await session.redemptions.add_lots(redemption_id, taken, now)
        entry = redeem_entry(reward, f"redemption {redemption_id}", now)
        balance = await session.customers.apply_entries(
            row, [entry], now=now, source=session.redemptions.source_of(redemption_id), tier=row.tier
        )
        if reward.stock is not None:
            await session.redemptions.move_stock(reward.id, 1)
        spent = {"redemptionId": str(redemption_id), "rewardId": reward.id}
        await session.customers.add_events(
            [
                (
                    POINTS_REDEEMED,
                    customer_external_id,
                    {**spent, "points": -reward.points_cost, "balanceAfter": balance_payload(balance)},
                ),
                (
                    REWARD_REDEEMED,
                    customer_external_id,
                    {
                        **spent,
                        "rewardName": reward.name,
                        "kind": reward.kind,
                        "code": code,
                        "pointsSpent": reward.points_cost,
                        "expiresAt": expires_at.isoformat(),
                    },
                ),
            ],
            now,
            program.version,
        )
        stored = await session.redemptions.find_by_code(code)
    assert stored is not None
    return RedeemResult(stored.redemption, replayed=False)


# ---- giving points back -------------------------------------------------------------------


@dataclass(frozen=True)
class Refund:
    redemption: Redemption
    points_refunded: int
    points_lapsed: int
    """Points whose lots expired while the redemption held them: not given back."""


async def cancel_redemption(uow: UnitOfWork, code: str, customer_external_id: str | None) -> Refund:
    """Gives an active redemption's points back. `customer_external_id`: the caller's own
    customer (a customer token), or None for an API key."""
    code = normalize_code(validation.text(code, ["code"], 64, required=True) or "")
    async with uow.reading() as session:
        found = await session.redemptions.find_by_code(code)
    if found is None or (customer_external_id and found.redemption.customer_external_id != customer_external_id):
        # A customer learns nothing of other customers' codes.
        raise DomainError(ErrorCode.COUPON_NOT_FOUND, f"No redemption has the code '{code}'.", ["code"])
    now = utcnow()
    async with uow.transaction() as session:
        row = await session.customers.lock_customer(found.redemption.customer_external_id, ["code"])
        current = await session.redemptions.find_by_code(code)
        assert current is not None
        if current.redemption.state is not RedemptionState.ACTIVE:
            current.redemption.usable_by(current.redemption.customer_external_id, now)  # raises why not
        refund = await end_redemption(session, row, current, RedemptionState.CANCELLED, now)
    assert refund is not None, "under the customer's lock an active redemption ends once"
    return refund


async def end_redemption(
    session: Session, customer_row: CustomerRow, stored: StoredRedemption, state: RedemptionState, now: datetime
) -> Refund | None:
    """Cancels or expires an active redemption (the customer locked): a REFUND entry
    related to its REDEEM entry (once, by the ledger's unique index), its lots put back,
    its stock given back. None when it was no longer active."""
    redemption = stored.redemption
    if not await session.redemptions.end(redemption.id, state, now):
        return None
    spent = await session.redemptions.spent_lots(redemption.id)
    restored, points, lapsed = points_to_restore(spent, stored.points_untraced, now)
    await session.redemptions.add_lots(redemption.id, [(lot.entry_id, -lot.points) for lot in restored], now)
    why = f"Redemption {redemption.id} {state.value}" + (f"; {lapsed} points had expired meanwhile" if lapsed else "")
    redeem_id = await session.redemptions.redeem_entry_id(customer_row.id, redemption.id)
    written = await session.ledger.insert_entries(
        customer_row.id,
        [LinkedEntry(refund_entry(points, why, now), related_entry_id=redeem_id)],
        now=now,
        source=session.redemptions.source_of(redemption.id),
    )
    balance = await session.customers.move_balance(customer_row, written, tier=customer_row.tier)
    # The row stays the customer as it now is, for whatever the transaction does next.
    customer_row.points_available = balance.available
    await session.redemptions.move_stock(redemption.reward.reward_id, -1)
    payload = {
        "redemptionId": str(redemption.id),
        "rewardId": redemption.reward.reward_id,
        "points": points,
        "lapsed": lapsed,
        "reason": state.value,
        "balanceAfter": balance_payload(balance),
    }
    await session.customers.add_events([(POINTS_REFUNDED, redemption.customer_external_id, payload)], now)
    return Refund(replace(redemption, state=state), points, lapsed)


# ---- coupon codes on orders and carts -----------------------------------------------------


def redemption_codes(codes: Sequence[str]) -> list[str]:
    """The coupon codes that are redemptions' (the others are marketers' plain coupons)."""
    return sorted({normalize_code(c) for c in codes if looks_like_redemption_code(c)})


def plain_coupons(facts: OrderFacts) -> OrderFacts:
    """What the rules see: marketers' plain coupons only."""
    plain = frozenset(c for c in facts.coupon_codes if not looks_like_redemption_code(c))
    return facts if plain == facts.coupon_codes else replace(facts, coupon_codes=plain)


async def usable_redemptions(
    session: Session,
    codes: Sequence[str],
    customer_external_id: str | None,
    now: datetime,
    *,
    subtotal: Decimal | None = None,
    order_external_id: str | None = None,
) -> list[Redemption]:
    """The redemptions behind these codes, each usable by this customer now (and, given a
    subtotal, on an order that large). A code already used by `order_external_id` passes:
    that order is being recorded again, and its replay is answered as such."""
    wanted = redemption_codes(codes)
    if not wanted:
        return []
    found = await session.redemptions.find_by_codes(wanted)
    usable = []
    for code in wanted:
        if customer_external_id is None:
            raise DomainError(
                ErrorCode.REQUIRED,
                f"Coupon code '{code}' is a redemption's: name the customer who redeemed it.",
                ["customer_external_id"],
            )
        stored = found.get(code)
        if stored is None:
            raise DomainError(ErrorCode.COUPON_NOT_FOUND, f"No redemption has the code '{code}'.", ["coupon_codes"])
        redemption = stored.redemption
        replayed = redemption.state is RedemptionState.USED and redemption.order_external_id == order_external_id
        if not (replayed and order_external_id and redemption.customer_external_id == customer_external_id):
            redemption.usable_by(customer_external_id, now)
        minimum = redemption.reward.min_order
        if subtotal is not None and minimum is not None and subtotal < minimum:
            raise DomainError(
                ErrorCode.COUPON_NOT_APPLICABLE,
                f"Coupon code '{code}' needs an order of at least {minimum}; the subtotal is {subtotal}.",
                ["coupon_codes"],
            )
        usable.append(redemption)
    return usable


async def coupons_of(session: Session, order: ValidOrder, customer_external_id: str, now: datetime) -> list[Redemption]:
    """The redemptions an order being recorded uses (the customer locked)."""
    return await usable_redemptions(
        session,
        tuple(order.facts.coupon_codes),
        customer_external_id,
        now,
        subtotal=order.converted.subtotal,  # minimum orders are in the program currency
        order_external_id=order.external_id,
    )


async def use_coupons(session: Session, redeemed: Sequence[Redemption], order_id: int, now: datetime) -> None:
    """Marks the order's redemptions used, each once: a code another order took meanwhile
    fails the whole recording."""
    if redeemed and await session.redemptions.mark_used([r.id for r in redeemed], order_id, now) != len(redeemed):
        raise DomainError(ErrorCode.COUPON_USED, "A coupon code of this order was already used.", ["coupon_codes"])
