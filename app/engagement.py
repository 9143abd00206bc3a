"""Recording engagement events (reviews, follows, surveys): evaluate the event rules, write
the event and its ledger entries at once. The same shape as `app.orders`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from app.clock import utcnow
from app.events import earning_events
from app.idempotency import conflict, record_once
from app.limits import evaluate_within_limits, record_applied_uses
from app.metrics import ledger_written
from app.tier_reviews import tier_after_earning
from domain.events import EventInput, ValidEvent, rule_facts, validate_event
from domain.ledger import earn_entries, earned_awards
from persistence.engagement import StoredEvent
from persistence.entries import LinkedEntry
from persistence.rows import CustomerRow
from persistence.unit_of_work import Session, UnitOfWork
from rules import Program


@dataclass(frozen=True)
class EventResult:
    event: StoredEvent
    points_earned: int
    replayed: bool


async def record_event(uow: UnitOfWork, program: Program, data: EventInput) -> EventResult:
    """Idempotent on the event's external id: a replay returns the first result and
    writes nothing; the same id with other content is refused."""
    event = validate_event(data)
    return await record_once(
        lambda: _record(uow, program, event),
        lambda: _find(uow, event.external_id),
        lambda existing: _replay(existing, event),
    )


async def _find(uow: UnitOfWork, external_id: str) -> StoredEvent | None:
    async with uow.reading() as session:
        return await session.events.find_event(external_id)


async def _record(uow: UnitOfWork, program: Program, event: ValidEvent) -> EventResult:
    now = utcnow()
    async with uow.transaction() as session:
        customer_row = await session.customers.lock_customer(event.customer_external_id, ["customer_external_id"])
        awarded = await award_event(session, program, customer_row, event, now)
    return EventResult(awarded.event, awarded.points, replayed=False)


@dataclass(frozen=True)
class AwardedEvent:
    event_id: int
    event: StoredEvent
    points: int


async def award_event(
    session: Session,
    program: Program,
    customer_row: CustomerRow,
    event: ValidEvent,
    now: datetime,
    source: dict | None = None,
) -> AwardedEvent:
    """Evaluates the event rules for a customer already locked in the caller's transaction,
    and writes the event, its entries, the balance, the outbox and the limited rules' uses.
    Shared by recordEvent, feedback and referral completion, so all earn alike. `source`:
    what the outbox's points.earned names (the event by default)."""
    customer = session.customers.to_customer(customer_row)
    facts, event_facts = customer.facts(), rule_facts(event)
    limits = await evaluate_within_limits(
        session,
        program,
        customer_row.id,
        now,
        lambda usage: program.evaluate_event(facts, event_facts, now, usage, trace=False),
        event=event_facts,
    )
    evaluation = limits.evaluation
    entries = earn_entries(evaluation, now)
    points = sum(e.points for e in entries)
    # The event row first: a replay fails here, on the unique index, before anything else.
    event_id, stored = await session.events.insert_event(
        customer_row, event, points=points, rules_version=evaluation.rules_version, now=now
    )
    written = await session.ledger.insert_entries(
        customer_row.id, [LinkedEntry(e, event_id=event_id) for e in entries], now=now
    )
    assert len(written) == len(entries), "earn entries have no related entry: none may conflict"
    balance = customer.balance.after(written)
    tier_name = await tier_after_earning(
        session,
        program,
        customer_row.id,
        customer.tier,
        lifetime_points=balance.lifetime_earned,
        lifetime_spend=customer.lifetime_spend,
        points_added=points,
        spend_added=Decimal(0),
        now=now,
    )
    await session.customers.move_balance(customer_row, written, tier=tier_name)
    # The row now holds what the customer has, for a caller that awards it more.
    customer_row.points_available, customer_row.points_pending = balance.available, balance.pending
    customer_row.lifetime_earned, customer_row.tier = balance.lifetime_earned, tier_name
    source = source or {"eventExternalId": event.external_id, "eventType": event.facts.type}
    events = earning_events(customer.external_id, source, evaluation, points, customer.tier, tier_name, balance)
    await session.customers.add_events(events, now)
    await record_applied_uses(session, program, customer_row.id, limits, now, event_id=event_id)
    ledger_written("event", len(entries))
    # What the entries record, as a replay reads it back from them.
    return AwardedEvent(event_id, replace(stored, awards=earned_awards(entries)), points)


def _replay(existing: StoredEvent, event: ValidEvent) -> EventResult:
    if existing.request_hash != event.request_hash:
        raise conflict("Event", event.external_id)
    return EventResult(existing, existing.points_earned, replayed=True)
