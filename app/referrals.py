"""Referrals: linking a friend at enrolment, completing the referral once the friend's
first order has passed its return window (a job), and taking the rewards back when that
order comes back in full.

Locks: the friend's row, then the referrer's. A referrer always enrolled before its
friend, so that order is the same everywhere and two of these transactions never wait on
each other in a cycle.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.engagement import award_event
from app.events import POINTS_REVERSED, REFERRAL_COMPLETED, balance_payload
from app.reversals import reversal_entries
from domain.errors import DomainError, ErrorCode
from domain.events import EventInput, validate_event
from domain.ledger import Balance
from domain.referrals import Party, ReferralStatus, refusal
from persistence.connections import IntegrityError
from persistence.referrals import DueReferral
from persistence.rows import CustomerRow
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program

REFERRAL_EVENT = "referral.completed"
log = logging.getLogger("loyalty")


def _party(row: CustomerRow) -> Party:
    return Party(row.external_id, row.email, row.enrolled_at, row.referred_by_id is not None, row.order_count)


async def referrer_for(session: Session, code: str, friend: Party) -> CustomerRow:
    """The customer whose code the friend gave, if the friend may be referred by them."""
    referrer = await session.referrals.find_by_code(code)
    if referrer is None:
        raise DomainError(
            ErrorCode.REFERRAL_CODE_UNKNOWN, f"No customer has the referral code '{code}'.", ["referral_code"]
        )
    problem = refusal(_party(referrer), friend)
    if problem is not None:
        raise problem
    return referrer


async def link_existing(session: Session, friend: CustomerRow, code: str, now: datetime) -> None:
    """A customer who enrolled before following a friend's link gives the code later (in
    the caller's transaction, with the friend's row locked)."""
    referrer = await referrer_for(session, code, _party(friend))
    try:
        await session.referrals.link(referrer.id, friend.id, now)
    except IntegrityError:
        raise DomainError(
            ErrorCode.ALREADY_REFERRED,
            f"Customer '{friend.external_id}' was already referred by someone.",
            ["referral_code"],
        ) from None
    friend.referred_by_id = referrer.id


# ---- completion (the referral-completion job) -------------------------------------------


async def complete_due_referrals(
    uow: UnitOfWork, program: Program, now: datetime, batch_size: int
) -> tuple[int, int, int]:
    """(referrals completed, entries written, points awarded) for every linked referral
    whose friend's first order is past its return window (the program's pending days)."""
    now = now.astimezone(UTC)
    placed_before = now - timedelta(days=program.settings.pending_days)
    completed = entries = points = 0
    after_id = 0
    while page := await _due_referrals(uow, placed_before, after_id, batch_size):
        for due in page:
            after_id = due.id
            try:
                done = await _complete(uow, program, due, placed_before, now)
            except DomainError as error:
                # One side cannot take the award (POINTS_LIMIT): nothing of it was written,
                # it stays linked for a later run, and the other referrals go on.
                log.warning("referral %s not completed: %s", due.id, error.message)
                continue
            if done is not None:
                completed += 1
                entries += done[0]
                points += done[1]
    return completed, entries, points


async def _due_referrals(uow: UnitOfWork, placed_before: datetime, after_id: int, batch_size: int) -> list[DueReferral]:
    async with uow.reading() as session:
        return await session.referrals.due_referrals(placed_before, after_id, batch_size)


async def _complete(
    uow: UnitOfWork, program: Program, due: DueReferral, placed_before: datetime, now: datetime
) -> tuple[int, int] | None:
    async with uow.transaction() as session:
        friend = await session.customers.lock_customer(due.friend_external_id, ["friend"])
        referrer = await session.customers.lock_customer(due.referrer_external_id, ["referrer"])
        # Under the friend's lock nothing else moves this referral: another run may have
        # settled it meanwhile, in which case there is nothing left to do.
        if await session.referrals.status(due.id) != ReferralStatus.LINKED:
            return None
        first = await session.referrals.first_order(friend.id)
        if first is None or first.placed_at > placed_before:
            return None
        if first.returned_in_full:
            await session.referrals.settle(due.id, ReferralStatus.VOID, first.id, completed_at=now)
            return None
        # Both sides earn by the event rules, each as an engagement event whose id names the
        # referral and the side: running the job twice at once, the second insert is refused.
        source = {"referral": str(due.id), "orderExternalId": first.external_id}
        awarded = {}
        for role, row in (("referrer", referrer), ("friend", friend)):
            event = validate_event(
                EventInput(
                    external_id=_event_id(due.id, role),
                    customer_external_id=row.external_id,
                    type=REFERRAL_EVENT,
                    occurred_at=now,
                    attributes={
                        "role": role,
                        "friend_first_order": role == "referrer",
                        "first_order_subtotal": float(first.program_subtotal),
                    },
                )
            )
            awarded[role] = await award_event(
                session, program, row, event, now, source={**source, "eventType": REFERRAL_EVENT}
            )
        await session.referrals.settle(due.id, ReferralStatus.COMPLETED, first.id, completed_at=now)
        await session.customers.add_events(
            [
                (
                    REFERRAL_COMPLETED,
                    referrer.external_id,
                    {
                        "referrerExternalId": referrer.external_id,
                        "friendExternalId": friend.external_id,
                        "orderExternalId": first.external_id,
                        "referrerPoints": awarded["referrer"].points,
                        "friendPoints": awarded["friend"].points,
                    },
                )
            ],
            now,
        )
    written = sum(len(a.event.awards) for a in awarded.values())
    return written, sum(a.points for a in awarded.values())


def _event_id(referral_id: int, role: str) -> str:
    return f"referral:{referral_id}:{role}"


# ---- take-back (a friend's first order returned in full) ----------------------------------


async def take_back_referral(
    session: Session, order_id: int, order_external_id: str, friend: CustomerRow, now: datetime
) -> None:
    """In the return's transaction, with the friend (the order's customer) locked: when this
    order completed a referral, both sides' referral rewards are reversed (never below
    zero, like a return's)."""
    referral = await session.referrals.completed_by_order(order_id)
    if referral is None:
        return
    referrer = await session.customers.lock_customer(referral.referrer_external_id, ["order_external_id"])
    reason = f"Referral taken back: order {order_external_id} returned"
    for role, row in (("referrer", referrer), ("friend", friend)):
        event_id = await session.referrals.event_id(_event_id(referral.id, role))
        if event_id is None:
            continue
        earned = await session.returns.earned_by_event(event_id)
        due: dict[str, int] = {}
        for part in earned:
            due[part.rule_id] = due.get(part.rule_id, 0) + part.points
        # A fresh read: the return has just moved the friend's balance.
        row = await session.customers.lock_customer(row.external_id, ["order_external_id"])
        balance = Balance(row.points_available, row.points_pending, row.lifetime_earned)
        entries, unrecovered = reversal_entries(earned, due, balance, reason)
        balance = await session.customers.apply_entries(
            row, entries, now=now, source=f"referral:{referral.id}", tier=row.tier
        )
        taken = -sum(e.points for e in entries)
        if taken:
            payload = {
                "orderExternalId": order_external_id,
                "referral": str(referral.id),
                "points": taken,
                "unrecovered": unrecovered,
                "balanceAfter": balance_payload(balance),
            }
            await session.customers.add_events([(POINTS_REVERSED, row.external_id, payload)], now)
    await session.referrals.settle(referral.id, ReferralStatus.TAKEN_BACK, order_id)
