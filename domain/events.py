"""An engagement event as the store reports it (a review, a follow, a survey), validated
before anything is written."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from domain import validation
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.program import EventFacts

# The event types rule files name in `on:` (`review.published`, `custom.app_installed`).
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTES_BYTES = 16_384
_RULE_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class EventInput:
    external_id: str
    customer_external_id: str
    type: str
    occurred_at: datetime | None = None
    attributes: Any = None


@dataclass(frozen=True)
class ValidEvent:
    external_id: str
    customer_external_id: str
    occurred_at: datetime | None
    facts: EventFacts

    @cached_property
    def request_hash(self) -> str:
        """Same content, same digest: how a replay is told from a conflicting reuse of an id."""
        body = {
            "customer": self.customer_external_id,
            "type": self.facts.type,
            "occurredAt": self.occurred_at.isoformat() if self.occurred_at else None,
            "attributes": dict(self.facts.attributes),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def validate_event(event: EventInput) -> ValidEvent:
    """Every problem in the event at once, each naming its field; raises DomainErrors."""
    errors: list[DomainError] = []
    for value, field in ((event.external_id, "external_id"), (event.customer_external_id, "customer_external_id")):
        try:
            validation.external_id(value, [field])
        except DomainError as error:
            errors.append(error)
    if not _EVENT_TYPE.fullmatch(event.type or ""):
        errors.append(
            DomainError(
                ErrorCode.INVALID,
                f"{validation.shown(event.type or '')} is not an event type: 1 to 64 characters,"
                " lower-case letters, digits and . _ -, starting with a letter (such as review.published).",
                ["type"],
            )
        )
    attributes = _attributes(event.attributes, errors)
    if errors:
        raise DomainErrors(errors)
    return ValidEvent(
        external_id=event.external_id,
        customer_external_id=event.customer_external_id,
        occurred_at=event.occurred_at,
        facts=EventFacts(type=event.type, attributes=attributes),
    )


def _attributes(value: Any, errors: list[DomainError]) -> dict[str, object]:
    if value is None:
        return {}

    def invalid(message: str) -> dict[str, object]:
        errors.append(DomainError(ErrorCode.INVALID, message, ["attributes"]))
        return {}

    if not isinstance(value, Mapping):
        return invalid("Attributes must be a JSON object of names to values.")
    if len(value) > MAX_ATTRIBUTES:
        return invalid(f"An event has at most {MAX_ATTRIBUTES} attributes; got {len(value)}.")
    bad = [name for name in value if not isinstance(name, str) or not 0 < len(name) <= 64]
    if bad:
        return invalid(f"'{bad[0]}' is not an attribute name: 1 to 64 characters.")
    try:
        size = len(json.dumps(value, allow_nan=False))
    except ValueError:
        return invalid("Attributes must be plain JSON (no NaN or Infinity).")
    if size > MAX_ATTRIBUTES_BYTES:
        return invalid(f"Attributes take at most {MAX_ATTRIBUTES_BYTES} bytes as JSON.")
    return dict(value)


def rule_facts(event: ValidEvent) -> EventFacts:
    return event_rule_facts(event.facts.type, event.facts.attributes)


def event_rule_facts(event_type: str, attributes: Mapping[str, object]) -> EventFacts:
    """The attributes a rule can test: names as rule files spell them (`^[a-z][a-z0-9_]*$`)
    and plain values. Others are stored with the event but never reach the engine, whose
    C parser has no use for them (nested values, integers beyond 64 bits)."""
    visible = {
        name: value
        for name, value in attributes.items()
        if _RULE_NAME.fullmatch(name)
        and (
            isinstance(value, bool | str) or (isinstance(value, int) and abs(value) < 2**53) or isinstance(value, float)
        )
    }
    return EventFacts(type=event_type, attributes=visible)
