"""The storefront's reads: a customer (for `me`, `customer` and `evaluateCart`) and a page
of their ledger. Each is one statement of `persistence.reads`; see there for why."""

from __future__ import annotations

import base64

from domain import validation
from domain.customers import Customer
from domain.errors import DomainError, ErrorCode
from persistence import reads
from persistence import repositories as repo
from persistence.models import Customer as CustomerRow
from persistence.reads import LedgerRow

__all__ = [
    "LedgerRow",
    "customer_of",
    "decode_cursor",
    "encode_cursor",
    "get_customer",
    "get_customer_with_id",
    "ledger_page",
]


async def get_customer(external_id: str) -> Customer:
    validation.external_id(external_id, ["external_id"])
    found = await reads.customer(external_id)
    if found is None:
        raise _not_found(external_id)
    return found


async def get_customer_with_id(external_id: str) -> tuple[int, Customer]:
    """The customer and its row id (for what is read by it, such as the rules' usage)."""
    validation.external_id(external_id, ["external_id"])
    found = await reads.customer_with_id(external_id)
    if found is None:
        raise _not_found(external_id)
    return found


def customer_of(row: CustomerRow) -> Customer:
    """A customer as the API's per-request loader (api/context.py) fetched it."""
    return repo.to_customer(row)


def _not_found(external_id: str) -> DomainError:
    return DomainError(
        ErrorCode.CUSTOMER_NOT_FOUND, f"No customer has the external id '{external_id}'.", ["external_id"]
    )


async def ledger_page(customer_external_id: str, first: int, after: str | None) -> tuple[list[LedgerRow], bool]:
    """Newest entries first, after the cursor when given; and whether another page exists."""
    return await reads.ledger_page(customer_external_id, first, decode_cursor(after) if after else None)


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
