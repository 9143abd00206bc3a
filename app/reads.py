"""The storefront's reads: a customer (for `me`, `customer` and `evaluateCart`) and a page
of their ledger. Each is one statement of `persistence.reads`; see there for why."""

from __future__ import annotations

import base64

from domain import validation
from domain.customers import Customer
from domain.errors import DomainError, ErrorCode
from persistence.reads import LedgerRow
from persistence.rule_uses import UsageJson
from persistence.unit_of_work import Session, UnitOfWork

__all__ = [
    "LedgerRow",
    "customers_by_external_ids",
    "decode_cursor",
    "encode_cursor",
    "get_customer",
    "get_customer_in",
    "get_customer_with_id",
    "get_customer_with_usage",
    "ledger_page",
]


async def get_customer(uow: UnitOfWork, external_id: str) -> Customer:
    async with uow.reading() as session:
        return await get_customer_in(session, external_id)


async def get_customer_in(session: Session, external_id: str) -> Customer:
    """The customer as the session sees it (in a transaction: as it stands in there)."""
    validation.external_id(external_id, ["external_id"])
    found = await session.reads.customer(external_id)
    if found is None:
        raise _not_found(external_id)
    return found


async def get_customer_with_id(session: Session, external_id: str) -> tuple[int, Customer]:
    """The customer and its row id (for what is read by it, such as the rules' usage)."""
    validation.external_id(external_id, ["external_id"])
    found = await session.reads.customer_with_id(external_id)
    if found is None:
        raise _not_found(external_id)
    return found


async def get_customer_with_usage(session: Session, external_id: str) -> tuple[int, Customer, UsageJson]:
    """The customer, its row id, and its rules' usage as a dry run reads it, in one statement."""
    validation.external_id(external_id, ["external_id"])
    found = await session.reads.customer_with_usage(external_id)
    if found is None:
        raise _not_found(external_id)
    return found


async def customers_by_external_ids(uow: UnitOfWork, external_ids: list[str]) -> list[Customer | None]:
    """For the API's per-request loader (api/context.py): one statement for them all, in
    the order asked, None for an unknown id."""
    async with uow.reading() as session:
        found = await session.customers.customers_by_external_ids(external_ids)
        return [session.customers.to_customer(found[e]) if e in found else None for e in external_ids]


def _not_found(external_id: str) -> DomainError:
    return DomainError(
        ErrorCode.CUSTOMER_NOT_FOUND, f"No customer has the external id '{external_id}'.", ["external_id"]
    )


async def ledger_page(
    uow: UnitOfWork, customer_external_id: str, first: int, after: str | None
) -> tuple[list[LedgerRow], bool]:
    """Newest entries first, after the cursor when given; and whether another page exists."""
    before_id = decode_cursor(after) if after else None
    async with uow.reading() as session:
        return await session.reads.ledger_page(customer_external_id, first, before_id)


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
