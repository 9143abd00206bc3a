"""Checks shared by every input: ids, emails, text lengths, moments.

Every text is refused here, with a UserError, when a database would refuse it later
with a driver error: a NUL byte (PostgreSQL's text cannot hold one), a lone surrogate
(not encodable as UTF-8), or more characters than its column holds. A refused value is
quoted in the message only in part, so a 10 KB value does not come back whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from domain.errors import DomainError, DomainErrors, ErrorCode

_EXTERNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/#+-]{0,127}")
# Deliberately loose: the store owns its customers' addresses; this only catches typos
# such as a missing @ or domain.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
# NUL, and the surrogate code points, which only ever stand alone in a Python str.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
SHOWN_CHARACTERS = 40
# A moment outside these years is a client's bug (year 1 is PostgreSQL's -infinity
# neighbourhood, year 9999 a placeholder), never an order.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def shown(value: str) -> str:
    """The value as quoted in a message: its start, and how long it was when cut."""
    if len(value) <= SHOWN_CHARACTERS:
        return repr(value)
    return f"{value[:SHOWN_CHARACTERS]!r}… ({len(value)} characters)"


def external_id(value: str, field: list[str]) -> str:
    # fullmatch: with match and `$`, an id ending in a newline passed.
    if not _EXTERNAL_ID.fullmatch(value or ""):
        raise DomainError(
            ErrorCode.INVALID_ID,
            f"{shown(value or '')} is not a valid id: 1 to 128 characters, letters, digits and . _ : @ / # + -,"
            " starting with a letter or digit.",
            field,
        )
    return value


def email(value: str, field: list[str]) -> str:
    value = storable(value or "", field).strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise DomainError(ErrorCode.INVALID_EMAIL, f"{shown(value)} is not an email address.", field)
    return value


def storable(value: str, field: list[str]) -> str:
    """`value`, when every database can store it as text."""
    found = _UNSTORABLE.search(value)
    if found:
        raise DomainError(
            ErrorCode.INVALID,
            f"Text may not contain the character U+{ord(found.group()):04X} (found at position {found.start()}).",
            field,
        )
    return value


def text(value: str | None, field: list[str], max_length: int, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise DomainError(ErrorCode.REQUIRED, "This value is required.", field)
        return None
    value = value.strip()
    if len(value) > max_length:
        raise DomainError(ErrorCode.INVALID, f"At most {max_length} characters are allowed; got {len(value)}.", field)
    return storable(value, field)


def moment(value: datetime | None, field: list[str]) -> datetime | None:
    """A moment within EARLIEST and LATEST (a naive one is read as UTC)."""
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise DomainError(
            ErrorCode.INVALID,
            f"Must be between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}.",
            field,
        )
    return value


class Problems:
    """Every problem in one input, collected so that all are reported at once."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def check(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args), or None with its error kept."""
        try:
            return fn(*args)
        except DomainError as error:
            self.errors.append(error)
            return None

    def texts(self, values: Iterable[str], field: list[str], max_length: int) -> list[str]:
        """Each value a required text (field + its index on error): the valid ones, in order."""
        found = (self.check(text, value, [*field, str(index)], max_length, True) for index, value in enumerate(values))
        return [value for value in found if value]

    def raise_any(self) -> None:
        if self.errors:
            raise DomainErrors(self.errors)
