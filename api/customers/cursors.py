"""Relay cursors of ledger pages: an entry's id, opaque to clients."""

from __future__ import annotations

import base64

from domain.errors import DomainError, ErrorCode


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"entry:{entry_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "entry":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise DomainError(ErrorCode.INVALID, f"'{cursor}' is not a ledger cursor.", ["after"]) from None
