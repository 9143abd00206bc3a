"""Random sequences of what stores and time do to customers (Hypothesis's stateful testing):
orders (some closing a cart), returns, redemptions, adjustments, events, cart updates, and
clock moves with every job run as of the new time. After every step each balance equals
the sum of its entries and is never below zero, the outbox numbers each customer's events
without gap or repeat and holds none twice, and each cart was abandoned exactly as often
as a model of its updates and orders says.

The use cases are called as the API calls them (app/, on the test server's database), on
the event loop the server runs on, from the thread Hypothesis drives the machine in.
Examples are derandomised and bounded so that a run takes seconds on either database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from app import cart_updates, customers, engagement, jobs, orders, reads, redemptions, returns
from app.clock import Clock
from domain.customers import EnrollmentInput
from domain.errors import DomainError, ErrorCode
from domain.events import EventInput
from domain.orders import OrderInput, OrderLineInput
from domain.returns import ReturnInput, ReturnLineInput
from persistence import models
from persistence import repositories as repo
from persistence.unit_of_work import UnitOfWork
from rules import Program, load_program
from tests.conftest import TEST_RULES_DIR, Server, unique
from tests.e2e.test_year_walk import PROGRAM

ABANDONED_AFTER = timedelta(hours=24)
# In the past, and at most ~12 years of clock moves after it (30 steps of 140 days): events
# dated after the real time would look, to a webhook registered by a later test, as if they
# had occurred after it (app.webhooks takes events that occur from its registration on).
START = datetime(2001, 1, 5, 9, 0, tzinfo=UTC)
SETTINGS = settings(
    max_examples=12,
    stateful_step_count=30,
    derandomize=True,  # the same sequences on every run: CI stays stable
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Refusals a random sequence may meet, none of which may write anything.
EXPECTED_REFUSALS = {ErrorCode.INSUFFICIENT_POINTS, ErrorCode.REWARD_NOT_REDEEMABLE, ErrorCode.CART_CLOSED}


@dataclass
class CartModel:
    customer: int
    updated_at: datetime
    state: str = "open"
    abandonments: int = 0


@dataclass
class OrderModel:
    external_id: str
    quantity: int
    returned: int = 0


class LedgerMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    uow: UnitOfWork
    program: Program
    clock: Clock

    def __init__(self) -> None:
        super().__init__()
        self.customers = [unique("prop"), unique("prop")]
        self.orders: list[OrderModel] = []
        self.carts: dict[str, CartModel] = {}

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    def refused(self, work: Coroutine[Any, Any, Any]) -> ErrorCode | None:
        try:
            self.run(work)
        except DomainError as error:
            assert error.code in EXPECTED_REFUSALS, error
            return error.code
        return None

    @initialize()
    def enrol(self) -> None:
        self.clock.move_to(START)
        for index, customer in enumerate(self.customers):
            birthday = date(1990, 1, 6 + index)  # within the first days: the birthday job has work
            self.run(
                customers.enroll_customer(
                    self.uow, self.program, EnrollmentInput(customer, f"{customer}@x.io", birthday=birthday)
                )
            )

    @rule(
        who=st.integers(0, 1),
        quantity=st.integers(1, 3),
        price=st.sampled_from(["9.99", "25.00", "120.00", "700.00"]),
        closes_cart=st.booleans(),
    )
    def order(self, who: int, quantity: int, price: str, closes_cart: bool) -> None:
        cart = (
            next((cart_id for cart_id, c in self.carts.items() if c.customer == who and c.state != "closed"), None)
            if closes_cart
            else None
        )
        external_id = unique("order")
        data = OrderInput(
            external_id=external_id,
            customer_external_id=self.customers[who],
            currency="EUR",
            lines=(OrderLineInput("SKU-1", quantity, price),),
            cart_id=cart,
        )
        first = self.run(orders.record_order(self.uow, self.program, data))
        replay = self.run(orders.record_order(self.uow, self.program, data))
        assert replay.replayed and replay.points_earned == first.points_earned
        self.orders.append(OrderModel(external_id, quantity))
        if cart is not None:
            self.carts[cart].state = "closed"

    @precondition(lambda self: any(o.returned < o.quantity for o in self.orders))
    @rule(data=st.data())
    def give_back(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from([o for o in self.orders if o.returned < o.quantity]))
        quantity = data.draw(st.integers(1, order.quantity - order.returned))
        request = ReturnInput(unique("return"), order.external_id, (ReturnLineInput("SKU-1", quantity),))
        self.run(returns.record_return(self.uow, request))
        order.returned += quantity

    @rule(who=st.integers(0, 1))
    def redeem(self, who: int) -> None:
        self.refused(redemptions.redeem_reward(self.uow, self.program, "coffee", self.customers[who], None))

    @rule(who=st.integers(0, 1), points=st.integers(-300, 300).filter(bool))
    def adjust(self, who: int, points: int) -> None:
        key = unique("adjust")
        work = customers.adjust_points(self.uow, self.program, self.customers[who], points, "property", "test", key)
        if self.refused(work) is None:
            again = customers.adjust_points(
                self.uow, self.program, self.customers[who], points, "property", "test", key
            )
            assert self.run(again).replayed

    @rule(who=st.integers(0, 1))
    def review(self, who: int) -> None:
        event = EventInput(unique("review"), self.customers[who], "review.published")
        self.run(engagement.record_event(self.uow, self.program, event))

    @rule(who=st.integers(0, 1), which=st.integers(0, 1), quantity=st.integers(1, 4))
    def update_cart(self, who: int, which: int, quantity: int) -> None:
        cart_id = f"{self.customers[who]}-cart-{which}"
        update = cart_updates.CartUpdate(
            cart_id, self.customers[who], "EUR", (OrderLineInput("SKU-2", quantity, "30.00"),)
        )
        refusal = self.refused(cart_updates.update_cart(self.uow, self.program, update))
        model = self.carts.get(cart_id)
        if model is not None and model.state == "closed":
            assert refusal is ErrorCode.CART_CLOSED
            return
        assert refusal is None
        if model is None:
            self.carts[cart_id] = CartModel(who, self.clock.now())
        else:
            model.updated_at, model.state = self.clock.now(), "open"

    @rule(hours=st.sampled_from([1, 23, 25, 24 * 15, 24 * 70, 24 * 140]))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        now = self.clock.now()
        self.run(jobs.run_jobs(self.uow, None, now, self.program))
        for cart in self.carts.values():
            if cart.state == "open" and cart.updated_at <= now - ABANDONED_AFTER:
                cart.state, cart.abandonments = "abandoned", cart.abandonments + 1

    @invariant()
    def balances_are_the_sums_of_their_entries(self) -> None:
        for customer in self.customers:
            balance = self.run(reads.get_customer(self.uow, customer)).balance
            sums = self.run(repo.ledger_sums(customer))
            assert (balance.available, balance.pending, balance.lifetime_earned) == (
                sums.available,
                sums.pending,
                sums.lifetime_earned,
            )
            assert balance.available >= 0 and balance.pending >= 0

    @invariant()
    def every_event_is_in_the_outbox_once(self) -> None:
        for customer in self.customers:
            rows = self.run(self._events(customer))
            assert [row.customer_sequence for row in rows] == list(range(1, len(rows) + 1))
            seen = [(row.type, json.dumps(row.payload, sort_keys=True)) for row in rows]
            assert len(set(seen)) == len(seen), seen
            abandoned: dict[str, int] = {}
            for row in rows:
                if row.type == "cart.abandoned":
                    abandoned[row.payload["cartId"]] = abandoned.get(row.payload["cartId"], 0) + 1
            expected = {
                cart_id: cart.abandonments
                for cart_id, cart in self.carts.items()
                if self.customers[cart.customer] == customer and cart.abandonments
            }
            assert abandoned == expected

    @staticmethod
    async def _events(customer: str) -> list[models.RewardEvent]:
        return await models.RewardEvent.filter(customer_external_id=customer).order_by("customer_sequence")


async def test_random_sequences_keep_balances_and_the_outbox_right(server: Server, moved_clock: Clock, tmp_path: Path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "currencies.yaml").write_text((TEST_RULES_DIR / "currencies.yaml").read_text())
    (folder / "program.yaml").write_text(PROGRAM.format(expiry=", expires_in_days: 120", grace="  grace_days: 30"))
    machine = type(
        "Machine",
        (LedgerMachine,),
        {"loop": asyncio.get_running_loop(), "uow": server.uow, "program": load_program(folder), "clock": moved_clock},
    )
    await asyncio.to_thread(run_state_machine_as_test, machine, settings=SETTINGS)
