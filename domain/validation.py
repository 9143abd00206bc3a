"""Checks shared by every input: ids, emails, text lengths."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from domain.errors import DomainError, DomainErrors, ErrorCode

_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/#+-]{0,127}$")
# Deliberately loose: the store owns its customers' addresses; this only catches typos
# such as a missing @ or domain.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def external_id(value: str, field: list[str]) -> str:
    if not _EXTERNAL_ID.match(value or ""):
        raise DomainError(
            ErrorCode.INVALID_ID,
            f"'{value}' is not a valid id: 1 to 128 characters, letters, digits and . _ : @ / # + -,"
            " starting with a letter or digit.",
            field,
        )
    return value


def email(value: str, field: list[str]) -> str:
    value = (value or "").strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise DomainError(ErrorCode.INVALID_EMAIL, f"'{value}' is not an email address.", field)
    return value


def text(value: str | None, field: list[str], max_length: int, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise DomainError(ErrorCode.REQUIRED, "This value is required.", field)
        return None
    value = value.strip()
    if len(value) > max_length:
        raise DomainError(
            ErrorCode.INVALID, f"At most {max_length} characters are allowed.", field
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
