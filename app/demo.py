"""`loyalty demo`: a small program to click through, loaded by the same use cases clients call."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app import customers, orders, reads
from app.bootstrap import running_services
from app.credentials import create_api_key
from app.settings import Settings
from domain.customers import EnrollmentInput
from domain.errors import DomainError, ErrorCode
from domain.orders import OrderInput, OrderLineInput

DEMO_CUSTOMERS = [
    EnrollmentInput("cust-ada", "ada@example.com", "Ada Lovelace", date(1990, 12, 10), tags=("vip",)),
    EnrollmentInput("cust-alan", "alan@example.com", "Alan Turing", date(1985, 6, 23)),
    EnrollmentInput("cust-grace", "grace@example.com", "Grace Hopper", date(1979, 12, 9)),
]

DEMO_ORDERS = [
    OrderInput(
        "demo-order-1",
        "cust-ada",
        "EUR",
        (
            OrderLineInput("CRIB-OAK", 1, Decimal("349.00"), "cribs"),
            OrderLineInput("BLANKET-01", 2, Decimal("24.50"), "bedding"),
        ),
        shipping_amount=Decimal("4.90"),
    ),
    OrderInput("demo-order-2", "cust-ada", "EUR", (OrderLineInput("TOY-DUCK", 3, Decimal("9.99"), "toys"),)),
    OrderInput("demo-order-3", "cust-alan", "EUR", (OrderLineInput("BOOK-ENIGMA", 1, Decimal("45.00"), "books"),)),
]


async def load_demo(settings: Settings) -> int:
    async with running_services(settings) as services:
        for data in DEMO_CUSTOMERS:
            try:
                await customers.enroll_customer(services.uow, services.program, data)
            except DomainError as error:
                if error.code is not ErrorCode.ALREADY_EXISTS:
                    raise
        for order in DEMO_ORDERS:
            await orders.record_order(services.uow, services.program, order)
        key = await create_api_key(services.uow, "demo-admin", ["admin"])
        token = services.tokens.issue("cust-ada")
        ada = await reads.get_customer(services.uow, "cust-ada")
    print(f"Demo loaded into {settings.database_url.split('@')[-1]} with rules version {services.program.version}.")
    print(
        f"  customer cust-ada: {ada.balance.available} points available,"
        f" {ada.balance.pending} pending (the return window), tier {ada.tier}"
    )
    print(f"Admin API key (shown once):  {key}")
    print(f"Customer token for cust-ada: {token.token}")
    return 0
