"""Referrals: each customer's own code, and who may refer whom.

A referral links a friend to the customer whose code the friend gave at enrolment. It
completes, and the rules reward both sides (`referral.completed`), when the friend's first
order has passed its return window; a first order returned in full takes that back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from domain.errors import DomainError, ErrorCode

# No 0/O or 1/I/L: codes are read aloud and typed in by people.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_referral_code() -> str:
    """A random code (about 40 bits): unguessable enough that a friend cannot pick a
    referrer by trying codes, short enough to type."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


# Random bytes below 248 (8 x 31) read as letters of the alphabet, each letter as likely;
# the others dropped: many codes drawn at once (an import enrolling 100,000 customers)
# at a hundredth of new_referral_code's cost each, as uniform.
_USABLE = 256 - 256 % len(_ALPHABET)
_LETTERS = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) if b < _USABLE else 0 for b in range(256))
_UNUSABLE = bytes(range(_USABLE, 256))


def new_referral_codes(count: int) -> list[str]:
    """`count` codes drawn as new_referral_code draws one."""
    letters = b""
    while len(letters) < count * CODE_LENGTH:
        wanted = count * CODE_LENGTH - len(letters)
        letters += secrets.token_bytes(wanted + wanted // 16 + 8).translate(_LETTERS, _UNUSABLE)[:wanted]
    text = letters.decode("ascii")
    return [text[i : i + CODE_LENGTH] for i in range(0, count * CODE_LENGTH, CODE_LENGTH)]


def normalise_code(code: str) -> str:
    return code.strip().upper()


@dataclass(frozen=True)
class Party:
    """What deciding a referral needs to know of each side."""

    external_id: str
    email: str
    enrolled_at: datetime
    referred: bool = False
    order_count: int = 0


def refusal(referrer: Party, friend: Party) -> DomainError | None:
    """Why `referrer` may not refer `friend`, or None. The same person under a second
    account (same email) counts as self-referral."""
    field = ["referral_code"]
    if referrer.external_id == friend.external_id or referrer.email.casefold() == friend.email.casefold():
        return DomainError(ErrorCode.SELF_REFERRAL, "A customer cannot refer themselves.", field)
    if friend.referred:
        return DomainError(
            ErrorCode.ALREADY_REFERRED, f"Customer '{friend.external_id}' was already referred by someone.", field
        )
    if referrer.enrolled_at > friend.enrolled_at:
        return DomainError(
            ErrorCode.REFERRER_ENROLLED_LATER,
            "This code belongs to a customer who enrolled after you: only earlier members can refer.",
            field,
        )
    if friend.order_count:
        return DomainError(
            ErrorCode.REFERRAL_TOO_LATE,
            f"Customer '{friend.external_id}' has already ordered; a referral must come before the first order.",
            field,
        )
    return None


class ReferralStatus:
    LINKED = "linked"
    COMPLETED = "completed"
    VOID = "void"
    """The first order came back before its return window passed: nothing was awarded."""
    TAKEN_BACK = "taken_back"
    """The first order came back after the rewards: they were reversed."""
