from datetime import UTC, datetime

import pytest

from domain.errors import DomainErrors
from domain.events import EventInput, rule_facts, validate_event


def event(**changes) -> EventInput:
    base = {"external_id": "ev-1", "customer_external_id": "cust-1", "type": "review.published"}
    return EventInput(**{**base, **changes})


def test_a_valid_event_keeps_its_attributes():
    valid = validate_event(event(attributes={"rating": 5, "sku": "CRIB-OAK"}))
    assert valid.facts.type == "review.published"
    assert dict(valid.facts.attributes) == {"rating": 5, "sku": "CRIB-OAK"}


@pytest.mark.parametrize("event_type", ["", "Review", "1review", "review published", "x" * 65])
def test_an_event_type_is_a_lower_case_dotted_name(event_type):
    with pytest.raises(DomainErrors) as raised:
        validate_event(event(type=event_type))
    assert [e.field for e in raised.value.errors] == [["type"]]


@pytest.mark.parametrize("attributes", [[1, 2], "text", {f"a{n}": n for n in range(51)}, {"": 1}, {"x": float("nan")}])
def test_attributes_are_a_small_plain_json_object(attributes):
    with pytest.raises(DomainErrors) as raised:
        validate_event(event(attributes=attributes))
    assert [e.field for e in raised.value.errors] == [["attributes"]]


def test_the_request_hash_tells_a_replay_from_other_content():
    at = datetime(2026, 11, 20, tzinfo=UTC)
    first = validate_event(event(attributes={"rating": 5, "b": 1}, occurred_at=at))
    same = validate_event(event(attributes={"b": 1, "rating": 5}, occurred_at=at))
    other = validate_event(event(attributes={"rating": 4, "b": 1}, occurred_at=at))
    assert first.request_hash == same.request_hash != other.request_hash


def test_rules_see_only_attributes_a_rule_file_can_name():
    valid = validate_event(
        event(attributes={"rating": 5, "verified": True, "productSku": "X", "tags": ["a"], "huge": 10**30})
    )
    assert dict(rule_facts(valid).attributes) == {"rating": 5, "verified": True}
