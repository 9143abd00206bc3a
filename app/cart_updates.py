"""`updateCart`: the store tells the service about a live cart, so that one left without an
order can be followed up (app.abandoned_carts).

The latest update wins: its lines replace the cart's, and it re-opens a cart already
abandoned (a new abandonment may follow). A cart that an order closed is not re-opened:
the store starts a new cart, with a new id, after checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.carts import DRY_RUN_ID
from app.clock import utcnow
from domain import validation
from domain.errors import DomainError, DomainErrors, ErrorCode
from domain.orders import OrderInput, OrderLineInput, validate_order
from domain.program import LineFacts
from persistence.carts import StoredCart
from persistence.unit_of_work import UnitOfWork
from rules import Program

__all__ = ["CartUpdate", "StoredCart", "find_cart", "line_inputs_of", "update_cart"]


@dataclass(frozen=True)
class CartUpdate:
    cart_id: str
    customer_external_id: str
    currency: str
    lines: tuple[OrderLineInput, ...]


async def update_cart(uow: UnitOfWork, program: Program, update: CartUpdate) -> StoredCart:
    """Validates the lines as an order's (every problem at once) and records the cart."""
    problems: list[DomainError] = []
    try:
        validation.external_id(update.cart_id, ["cart_id"])
    except DomainError as error:
        problems.append(error)
    try:
        order = validate_order(
            OrderInput(
                external_id=DRY_RUN_ID,
                customer_external_id=update.customer_external_id,
                currency=update.currency,
                lines=update.lines,
            ),
            program.exchange,
        )
    except DomainErrors as errors:
        problems.extend(errors.errors)
    except DomainError as error:
        problems.append(error)
    if problems:
        raise DomainErrors(problems)
    now = utcnow()
    async with uow.transaction() as session:
        customer = await session.customers.read_customer(update.customer_external_id, ["customer_external_id"])
        written = await session.carts.upsert(
            update.cart_id,
            customer.id,
            order.facts.currency,
            [_line_json(line) for line in order.facts.lines],
            order.facts.subtotal,
            order.converted.subtotal,
            now,
        )
        stored = await session.carts.find(update.cart_id)
    assert stored is not None
    if not written:
        raise _refused(stored, update.customer_external_id)
    return stored


async def find_cart(uow: UnitOfWork, cart_id: str) -> StoredCart | None:
    async with uow.reading() as session:
        return await session.carts.find(cart_id)


def _refused(stored: StoredCart, customer_external_id: str) -> DomainError:
    if stored.customer_external_id != customer_external_id:
        return DomainError(ErrorCode.CART_NOT_YOURS, f"Cart '{stored.cart_id}' is another customer's.", ["cart_id"])
    return DomainError(
        ErrorCode.CART_CLOSED,
        f"Cart '{stored.cart_id}' was closed by order '{stored.order_external_id}'; send a new cart with a new cartId.",
        ["cart_id"],
    )


def _line_json(line: LineFacts) -> dict[str, Any]:
    """A line as stored (and as `cart.abandoned` carries it): the price as a decimal string."""
    data: dict[str, Any] = {"sku": line.sku, "quantity": line.quantity, "unitPrice": str(line.unit_price)}
    if line.category is not None:
        data["category"] = line.category
    if line.tags:
        data["tags"] = sorted(line.tags)
    return data


def line_inputs_of(lines: list[dict[str, Any]]) -> tuple[OrderLineInput, ...]:
    """Stored lines back as inputs, to evaluate the cart as an order."""
    return tuple(
        OrderLineInput(
            sku=line["sku"],
            quantity=line["quantity"],
            unit_price=line["unitPrice"],
            category=line.get("category"),
            tags=tuple(line.get("tags", ())),
        )
        for line in lines
    )
