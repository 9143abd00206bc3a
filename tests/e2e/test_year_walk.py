"""A year of a program's life in seconds: customers walked through 2021 with a moved clock,
over GraphQL and the jobs as `loyalty jobs run --at` runs them (app.scheduler.run_jobs).

The program is a Paris shop's: points pending 14 days (the return window), an expiry
policy (parametrised: a second policy is one more `EXPIRY_POLICIES` entry), tiers over a
rolling 180 days reviewed every December 1 (with and without 30 days' grace), a birthday
gift and abandoned carts after 24 hours. After every step, each balance equals the sum of
its entries, the jobs run a second time at the same moment write nothing, and no event is
in the outbox twice; at the end each customer's events tell their year.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app import jobs
from app.clock import Clock
from app.scheduler import run_jobs
from persistence import models
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.conftest import uow_of
from tests.graphql_client import CUSTOMER, RECORD_ORDER, RECORD_RETURN, enroll, gql, order_input
from tests.ledger_checks import assert_points_are_the_sum_of_entries

PROGRAM = """
program:
  name: Year walk
  currency: EUR
  time_zone: Europe/Paris
  points: {{pending_days: 14{expiry}}}
tiers:
  - {{name: Bronze, threshold: 0}}
  - {{name: Silver, threshold: 500}}
  - {{name: Gold, threshold: 2000}}
tier_qualification:
  period: {{rolling_days: 180}}
  review: {{date: 12-01}}
{grace}
carts:
  abandoned_after_hours: 24
rewards:
  - {{id: coffee, name: A coffee, kind: cashback, points_cost: 100, value: 2}}
rules:
  - id: base-earn
    then: {{points: {{per_unit: 1}}}}
  - id: review-bonus
    on: review.published
    then: {{points: {{fixed: 50}}}}
  - id: birthday-gift
    on: customer.birthday
    then: {{points: {{fixed: 100}}}}
"""


@dataclass(frozen=True)
class ExpiryPolicy:
    name: str
    rules: str
    """What goes in `program.points` beside pending_days."""
    expired: dict[str, int]
    """Points each customer has expired by the end of the year."""


EXPIRY_POLICIES = [
    # Each earn entry expires 134 days after it was earned (14 pending, then 120), less what
    # was spent of it. Ada: her January order's 500 less the 100 of the coffee, her review
    # (50), her birthday (100) and her July order (2000, due in November). Bob: his 300 and
    # 40 orders (his first was wholly returned). Carol: 600 and 80 (December's is not due).
    ExpiryPolicy("per-award", ", expires_in_days: 120", {"ada": 400 + 50 + 100 + 2000, "bob": 340, "carol": 680}),
    # All available points expire 120 days after the last order, event or redemption. Ada:
    # idle from her coffee and review (February 10) until June 10, so at the June 14 step,
    # before her birthday, her 450 go with the 100 her unused coffee code gave back when it
    # lapsed; then idle from her July order, so at the November 30 step her birthday's 100
    # and the July 2000 go. Bob: idle from his March 1 order until June
    # 29 (his 300 and 40, at the July 1 step). Carol: idle from her March 4 order until July
    # 2 (600 and 80, at the November 30 step; December's order is pending, then recent).
    ExpiryPolicy(
        "after-inactivity", ", expires_after_inactive_days: 120", {"ada": 450 + 100 + 2100, "bob": 340, "carol": 680}
    ),
]


@dataclass
class Walk:
    server: Server
    clock: Clock
    customers: dict[str, str]
    admin: httpx.AsyncClient
    """One client for the whole walk (each new client costs an SSL context)."""

    async def at(self, moment: datetime, action: Callable[[], Awaitable[None]] | None = None) -> None:
        """One step: the clock moves to `moment`, the action runs over GraphQL, every job
        runs as of then, and the invariants are checked."""
        self.clock.move_to(moment)
        if action is not None:
            await action()
        assert self.server.app is not None
        program = self.server.app.state.services.program  # the rules the server runs
        await run_jobs(uow_of(self.server), None, moment, program)
        written = await self.written()
        # Again, without the scheduler's leases (and their bookkeeping): the jobs alone.
        await jobs.run_jobs(uow_of(self.server), None, moment, program)
        assert await self.written() == written, f"the jobs run again at {moment} wrote more"
        await self.check()

    async def written(self) -> tuple[int, int]:
        ids = list(self.customers.values())
        return (
            await models.LedgerEntry.filter(customer__external_id__in=ids).count(),
            await models.RewardEvent.filter(customer_external_id__in=ids).count(),
        )

    async def check(self) -> None:
        for customer in self.customers.values():
            await assert_points_are_the_sum_of_entries(await self.points(customer), customer)
            rows = await models.RewardEvent.filter(customer_external_id=customer).order_by("customer_sequence")
            assert [row.customer_sequence for row in rows] == list(range(1, len(rows) + 1))
            seen = [(row.type, json.dumps(row.payload, sort_keys=True)) for row in rows]
            assert len(set(seen)) == len(seen), f"an event of {customer} is in the outbox twice"

    async def points(self, customer: str) -> dict:
        return (await gql(self.admin, CUSTOMER, id=customer))["customer"]["points"]

    async def customer(self, name: str) -> dict:
        return (await gql(self.admin, STANDING, id=self.customers[name]))["customer"]

    async def events(self, name: str) -> list[tuple[str, dict]]:
        rows = await models.RewardEvent.filter(customer_external_id=self.customers[name]).order_by("customer_sequence")
        return [(row.type, row.payload) for row in rows]

    # --- what the store does, as its back end calls the API ---

    async def order(self, name: str, amount: str, *, cart: str | None = None) -> str:
        order_id = unique("order")
        extra = {"cartId": cart} if cart else {}
        request = order_input(order_id, self.customers[name], ("SKU-1", 1, amount), **extra)
        data = (await gql(self.admin, RECORD_ORDER, input=request))["recordOrder"]
        assert data["errors"] == [], data["errors"]
        return order_id

    async def give_back(self, order_id: str, amount: str) -> int:
        """Returns the order's one line (bought once at `amount`)."""
        request = {
            "externalId": unique("return"),
            "orderExternalId": order_id,
            "lines": [{"sku": "SKU-1", "quantity": 1}],
        }
        data = (await gql(self.admin, RECORD_RETURN, input=request))["recordReturn"]
        assert data["errors"] == [], data["errors"]
        return int(data["pointsReversed"])

    async def mutate(self, query: str, field: str, **variables: object) -> dict:
        data = (await gql(self.admin, query, **variables))[field]
        assert data["errors"] == [], data["errors"]
        return data


STANDING = """
query($id: String!) {
  customer(externalId: $id) {
    tier { name }
    points { available pending lifetimeEarned }
    tierHistory { fromTier toTier reason }
  }
}"""
UPDATE_CART = """
mutation($input: UpdateCartInput!) { updateCart(input: $input) { cart { state } errors { code message } } }"""
REDEEM = """
mutation($input: RedeemRewardInput!) { redeemReward(input: $input) { redemption { code } errors { code message } } }"""
RECORD_EVENT = """
mutation($input: RecordEventInput!) { recordEvent(input: $input) { pointsEarned errors { code message } } }"""
UPDATE_CUSTOMER = """
mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { errors { code message } } }"""


def paris(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment of 2021 given in UTC (the tests say what it is in Paris where it matters). A
    past year: events dated after the real time would look, to a webhook registered by a
    later test, as if they had occurred after it."""
    return datetime(2021, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(params=[0, 30], ids=["no-grace", "grace-30"])
def grace_days(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(params=EXPIRY_POLICIES, ids=[p.name for p in EXPIRY_POLICIES])
def policy(request: pytest.FixtureRequest) -> ExpiryPolicy:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def year_server(server: Server, tmp_path: Path, policy: ExpiryPolicy, grace_days: int) -> AsyncIterator[Server]:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(TEST_RULES_DIR / "currencies.yaml", folder)
    grace = f"  grace_days: {grace_days}" if grace_days else ""
    (folder / "program.yaml").write_text(PROGRAM.format(expiry=policy.rules, grace=grace))
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


async def test_a_year_of_orders_returns_rewards_expiry_tiers_birthdays_and_carts(
    year_server: Server, moved_clock: Clock, policy: ExpiryPolicy, grace_days: int
):
    names = ("ada", "bob", "carol")
    async with year_server.client() as admin:
        await walk_a_year(
            Walk(year_server, moved_clock, {name: unique(name) for name in names}, admin), policy, grace_days
        )


async def walk_a_year(walk: Walk, policy: ExpiryPolicy, grace_days: int) -> None:
    names = tuple(walk.customers)

    async def enrol() -> None:
        await enroll(walk.admin, walk.customers["ada"], birthday="1990-06-15")
        await enroll(walk.admin, walk.customers["bob"])
        await enroll(walk.admin, walk.customers["carol"])

    await walk.at(paris(1, 5), enrol)

    # January: everyone orders 600 EUR and reaches Silver at once (pending points count).
    orders: dict[str, str] = {}

    async def first_orders() -> None:
        for name in names:
            orders[name] = await walk.order(name, "600.00")

    await walk.at(paris(1, 10), first_orders)
    assert {(await walk.customer(n))["tier"]["name"] for n in names} == {"Silver"}

    # Ada sends 100 EUR back inside the return window (her order was of one line: she
    # returns it and orders 500 again the same minute, so that the return is a whole line).
    async def ada_returns_inside_the_window() -> None:
        assert await walk.give_back(orders["ada"], "600.00") == 600
        orders["ada"] = await walk.order("ada", "500.00")

    await walk.at(paris(1, 15), ada_returns_inside_the_window)
    assert (await walk.points(walk.customers["ada"]))["pending"] == 500

    # End of January: the window is over; the pending points are released.
    await walk.at(paris(1, 31))
    assert (await walk.points(walk.customers["ada"]))["available"] == 500
    assert (await walk.points(walk.customers["bob"]))["available"] == 600

    # February: Bob returns his order outside the window (points taken from his available
    # ones) and orders 300 again; Ada spends 100 points on a coffee and writes a review.
    async def bob_returns_outside_the_window() -> None:
        assert await walk.give_back(orders["bob"], "600.00") == 600
        orders["bob"] = await walk.order("bob", "300.00")

    await walk.at(paris(2, 3), bob_returns_outside_the_window)
    assert (await walk.customer("bob"))["tier"]["name"] == "Silver"  # only a review lowers a tier

    async def ada_spends_and_reviews() -> None:
        await walk.mutate(
            REDEEM, "redeemReward", input={"rewardId": "coffee", "customerExternalId": walk.customers["ada"]}
        )
        event = {
            "externalId": unique("review"),
            "customerExternalId": walk.customers["ada"],
            "type": "review.published",
        }
        assert (await walk.mutate(RECORD_EVENT, "recordEvent", input=event))["pointsEarned"] == 50

    await walk.at(paris(2, 10), ada_spends_and_reviews)
    spent_and_reviewed = await walk.points(walk.customers["ada"])
    assert (spent_and_reviewed["available"], spent_and_reviewed["pending"]) == (400, 50)  # the bonus waits too

    # March: Carol fills a cart and leaves it; a day later it is abandoned, once, with what
    # it would earn. She comes back and orders it: recovered. Bob's cart is ordered within
    # the day: never abandoned.
    carol_cart, bob_cart = unique("cart"), unique("cart")

    async def carts_filled() -> None:
        for name, cart, amount in (("carol", carol_cart, "80.00"), ("bob", bob_cart, "40.00")):
            line = {"sku": "SKU-9", "quantity": 1, "unitPrice": amount}
            request = {"cartId": cart, "customerExternalId": walk.customers[name], "currency": "EUR", "lines": [line]}
            assert (await walk.mutate(UPDATE_CART, "updateCart", input=request))["cart"]["state"] == "open"

    await walk.at(paris(3, 1, 9), carts_filled)

    async def bob_orders_his_cart() -> None:
        await walk.order("bob", "40.00", cart=bob_cart)

    await walk.at(paris(3, 1, 18), bob_orders_his_cart)
    await walk.at(paris(3, 2, 8, 59))  # 23:59 after: not yet abandoned
    assert [t for t, _ in await walk.events("carol") if t == "cart.abandoned"] == []
    await walk.at(paris(3, 2, 9, 1))
    [abandoned] = [p for t, p in await walk.events("carol") if t == "cart.abandoned"]
    assert (abandoned["cartId"], abandoned["value"], abandoned["pointsToEarn"]) == (
        carol_cart,
        {"amount": "80.00", "currency": "EUR"},
        80,
    )

    async def carol_comes_back() -> None:
        await walk.order("carol", "80.00", cart=carol_cart)

    await walk.at(paris(3, 4), carol_comes_back)
    carts = {c.cart_id: c.state for c in await models.Cart.filter(cart_id__in=[carol_cart, bob_cart])}
    assert carts == {carol_cart: "recovered", bob_cart: "ordered"}

    # Spring: points expire as the policy says.
    await walk.at(paris(5, 31))
    await walk.at(paris(6, 14, 21, 59))  # 23:59 in Paris: not her birthday yet
    assert [t for t, _ in await walk.events("ada") if t == "customer.birthday"] == []
    await walk.at(paris(6, 14, 22, 0))  # midnight in Paris (summer time, UTC+2)
    [birthday] = [p for t, p in await walk.events("ada") if t == "customer.birthday"]
    assert (birthday["year"], birthday["points"]) == (2021, 100)

    # July: Ada orders 2000 EUR and goes up to Gold at once.
    async def ada_goes_gold() -> None:
        await walk.order("ada", "2000.00")

    await walk.at(paris(7, 1), ada_goes_gold)
    assert (await walk.customer("ada"))["tier"]["name"] == "Gold"

    # The December 1 review counts the 180 days before it: Ada keeps Gold; Bob, away since
    # March, drops to Bronze (once the grace is over); Carol orders within the grace.
    async def carol_orders_again() -> None:
        await walk.order("carol", "600.00")

    await walk.at(paris(11, 30, 23, 30))  # already December 1 in Paris: reviewed without grace
    await walk.at(paris(12, 10), carol_orders_again)
    await walk.at(paris(12, 31, 23, 30))  # after any grace

    for name, expired in policy.expired.items():
        got = sum(p["points"] for t, p in await walk.events(name) if t == "points.expired")
        seen = [
            (t, p.get("points"), p.get("balanceAfter")) for t, p in await walk.events(name) if t.startswith("points")
        ]
        assert got == expired, f"{name} expired {got}: {seen}"
    assert (await walk.customer("ada"))["tier"]["name"] == "Gold"
    assert (await walk.customer("bob"))["tier"]["name"] == "Bronze"
    assert (await walk.customer("carol"))["tier"]["name"] == "Silver"
    history = [(h["fromTier"], h["toTier"], h["reason"]) for h in (await walk.customer("carol"))["tierHistory"]]
    if grace_days:
        # Her December order counts for the review within its grace: kept.
        assert history == [("Bronze", "Silver", "threshold")]
    else:
        # Reviewed on December 1 with nothing in the window: down, then up again at her order.
        assert history == [
            ("Bronze", "Silver", "threshold"),
            ("Silver", "Bronze", "review"),
            ("Bronze", "Silver", "threshold"),
        ]
    reviews = [p for t, p in await walk.events("bob") if t == "tier.changed" and p["reason"] == "review"]
    assert [(p["from"], p["to"], p["reviewDate"]) for p in reviews] == [("Silver", "Bronze", "2021-12-01")]
