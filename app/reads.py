"""The read side: what GraphQL (and tests, and audits) read, in domain terms: a customer
(for `me`, `customer` and `evaluateCart`), customers in a batch, a page of a ledger. Nothing
here writes; each function is one `reading()` unit of work, one statement each (see
persistence.ledger for the page's plan)."""

from __future__ import annotations

from collections.abc import Sequence

from app.customers import customer_not_found
from domain import validation
from domain.customers import Customer
from domain.ledger import Balance
from persistence.engagement import StoredEvent
from persistence.ledger import LedgerRow
from persistence.orders import StoredOrder
from persistence.returns import StoredReturn
from persistence.unit_of_work import UnitOfWork

__all__ = ["LedgerRow", "StoredEvent", "StoredOrder", "StoredReturn"]


async def get_customer(uow: UnitOfWork, external_id: str, field: str = "external_id") -> Customer:
    """`field` names the input that carried the id, for the error when there is none."""
    validation.external_id(external_id, [field])
    async with uow.reading() as session:
        customer = await session.customers.get(external_id)
    if customer is None:
        raise customer_not_found(external_id, field)
    return customer


async def customers_by_external_ids(uow: UnitOfWork, external_ids: Sequence[str]) -> list[Customer | None]:
    """In the order asked, None for an unknown id (a DataLoader's batch)."""
    async with uow.reading() as session:
        found = await session.customers.by_external_ids(external_ids)
    return [found.get(external_id) for external_id in external_ids]


async def ledger_page(
    uow: UnitOfWork, customer_external_id: str, first: int, before_entry: int | None
) -> tuple[list[LedgerRow], bool]:
    """Newest entries first, older than `before_entry` when given; and whether more follow."""
    async with uow.reading() as session:
        return await session.ledger.page(customer_external_id, first, before_entry)


async def ledger_sums(uow: UnitOfWork, customer_external_id: str) -> Balance:
    """The balance recomputed from the entries themselves (for audits and tests)."""
    async with uow.reading() as session:
        return await session.ledger.sums(customer_external_id)


async def find_customer(uow: UnitOfWork, external_id: str) -> Customer | None:
    async with uow.reading() as session:
        return await session.customers.get(external_id)
