"""Recording engagement events (reviews, follows, surveys): evaluate the event rules, write
the event and its ledger entries at once. The same shape as `app.orders`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.clock import utcnow
from app.customers import customer_not_found
from app.events import earning_events
from app.idempotency import conflict, record_once
from app.limits import evaluate_within_limits, record_applied_uses
from domain.events import EventInput, ValidEvent, rule_facts, validate_event
from domain.ledger import earn_entries, earned_awards
from persistence.engagement import StoredEvent
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
        return await session.events.get(external_id)


async def _record(uow: UnitOfWork, program: Program, event: ValidEvent) -> EventResult:
    async with uow.transaction() as session:
        return await _record_in(session, program, event)


async def _record_in(session: Session, program: Program, event: ValidEvent) -> EventResult:
    now = utcnow()
    customer = await session.customers.get_for_change(event.customer_external_id)
    if customer is None:
        raise customer_not_found(event.customer_external_id, "customer_external_id")
    facts, event_facts = customer.facts(), rule_facts(event)
    limits = await evaluate_within_limits(
        session, program, customer, now, lambda usage: program.evaluate_event(facts, event_facts, now, usage)
    )
    evaluation = limits.evaluation
    entries = earn_entries(evaluation, now)
    points = sum(e.points for e in entries)
    # The event row first: a replay fails here, on the unique index, before anything else.
    stored = await session.events.add(customer, event, points=points, rules_version=evaluation.rules_version, now=now)
    written = await session.ledger.append(customer, entries, now=now, event=event.external_id)
    assert len(written) == len(entries), "earn entries have no related entry: none may conflict"
    balance = customer.balance.after(written)
    tier = program.tier_for(balance.lifetime_earned, customer.lifetime_spend)
    tier_name = tier.name if tier else None
    await session.customers.move_balance(customer, written, tier=tier_name)
    source = {"eventExternalId": event.external_id, "eventType": event.facts.type}
    events = earning_events(customer.external_id, source, evaluation, points, customer.tier, tier_name)
    await session.outbox.add(events, now)
    await record_applied_uses(session, customer, limits, now, event=event.external_id)
    # What the entries record, as a replay reads it back from them.
    return EventResult(replace(stored, awards=earned_awards(entries)), points, replayed=False)


def _replay(existing: StoredEvent, event: ValidEvent) -> EventResult:
    if existing.request_hash != event.request_hash:
        raise conflict("Event", event.external_id)
    return EventResult(existing, existing.points_earned, replayed=True)
