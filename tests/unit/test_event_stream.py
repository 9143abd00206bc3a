"""The outbox tail's order rules, without a database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app import event_stream
from app.event_stream import SettledReader, SlowSubscriber, Subscriber
from persistence.outbox import OutboxEvent

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(event_id: int, event_type: str = "points.earned", at: datetime = NOW) -> OutboxEvent:
    return OutboxEvent(event_id, event_type, "c", event_id, at, "v1", {})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_reader_stops_before_a_missing_id_that_may_still_commit():
    clock = Clock()
    reader = SettledReader(0, grace=5, clock=clock)

    assert [e.id for e in reader.settle([event(1), event(2), event(4)])] == [1, 2]
    assert reader.cursor == 2
    assert reader.recheck_in() == 5

    # id 3 commits: everything after it comes in order
    assert [e.id for e in reader.settle([event(3), event(4)])] == [3, 4]
    assert reader.recheck_in() is None


def test_the_reader_gives_up_on_a_missing_id_after_the_grace_period():
    clock = Clock()
    reader = SettledReader(10, grace=5, clock=clock)
    assert reader.settle([event(12)]) == []
    clock.now = 4.9
    assert reader.settle([event(12)]) == []
    clock.now = 5.0
    assert [e.id for e in reader.settle([event(12), event(13)])] == [12, 13]


def test_a_new_tail_does_not_wait_on_the_holes_of_history():
    reader = SettledReader(0, grace=5, clock=Clock())
    old, recent = NOW - timedelta(minutes=1), NOW
    history = [event(2, at=old), event(3, at=old), event(5, at=recent)]
    settled = reader.settle(history, old_before=NOW - timedelta(seconds=5))
    assert [e.id for e in settled] == [2, 3]


async def test_a_subscriber_skips_what_the_replay_covered_and_filters_by_type():
    subscriber = Subscriber(frozenset({"points.earned"}), floor=3)
    subscriber.offer([event(2), event(4, "tier.changed"), event(5)])
    assert (await subscriber.next()).id == 5


async def test_a_subscriber_that_falls_too_far_behind_is_ended_with_where_to_resume(monkeypatch):
    monkeypatch.setattr(event_stream, "SUBSCRIBER_BUFFER", 3)
    subscriber = Subscriber(None, floor=0)
    subscriber.offer([event(i) for i in range(1, 10)])
    assert [(await subscriber.next()).id for _ in range(3)] == [1, 2, 3]
    with pytest.raises(SlowSubscriber) as slow:
        await asyncio.wait_for(subscriber.next(), 1)
    assert slow.value.last_id == 3
    assert len(subscriber._buffer) == 0
