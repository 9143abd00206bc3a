"""Abandoned carts: a cart updated and not followed by an order within the rule files' hours
produces `cart.abandoned` once, with its lines, value and the points it would earn; an
order naming it closes it (recovered when the abandonment had gone out)."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.clock import Clock, utcnow
from app.jobs import run_jobs
from rules import check_folder
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.conftest import program_of, uow_of
from tests.graphql_client import RECORD_ORDER, enroll, gql, order_input
from tests.ledger_checks import outbox

HOURS = 24

UPDATE_CART = """
mutation($input: UpdateCartInput!) {
  updateCart(input: $input) {
    cart {
      cartId customerExternalId state value { amount currency } orderExternalId
      lines { sku quantity unitPrice { amount currency } }
    }
    errors { field code message }
  }
}"""


@pytest.fixture
async def cart_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "carts.yaml").write_text(f"carts:\n  abandoned_after_hours: {HOURS}\n")
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


def cart_input(cart_id: str, customer: str, *lines: tuple[str, int, str]) -> dict:
    return {
        "cartId": cart_id,
        "customerExternalId": customer,
        "currency": "EUR",
        "lines": [{"sku": s, "quantity": q, "unitPrice": p} for s, q, p in lines],
    }


async def update(server: Server, cart_id: str, customer: str, *lines: tuple[str, int, str]) -> dict:
    async with server.client() as admin:
        return (await gql(admin, UPDATE_CART, input=cart_input(cart_id, customer, *lines)))["updateCart"]


async def run_abandoned_carts(server: Server, at: datetime) -> int:
    [report] = await run_jobs(uow_of(server), "abandoned-carts", at, program_of(server))
    return report.customers


async def test_a_cart_left_without_an_order_is_abandoned_once_with_what_it_would_earn(cart_server, moved_clock: Clock):
    moved_clock.move_to(datetime(2021, 3, 2, 10, 0, tzinfo=UTC))
    customer, cart = unique("cust"), unique("cart")
    async with cart_server.client() as admin:
        await enroll(admin, customer)
    await update(cart_server, cart, customer, ("SKU-1", 1, "40.00"))
    latest = await update(cart_server, cart, customer, ("SKU-1", 2, "40.00"), ("SKU-2", 1, "40.00"))
    assert latest["errors"] == []
    assert latest["cart"]["state"] == "open"
    assert latest["cart"]["value"] == {"amount": "120.00", "currency": "EUR"}

    assert await run_abandoned_carts(cart_server, utcnow() + timedelta(hours=HOURS - 1)) == 0
    assert await outbox(customer, "cart.abandoned") == []

    later = utcnow() + timedelta(hours=HOURS + 1)
    await asyncio.gather(run_abandoned_carts(cart_server, later), run_abandoned_carts(cart_server, later))
    await run_abandoned_carts(cart_server, later + timedelta(hours=1))

    [event] = await outbox(customer, "cart.abandoned")
    assert event["cartId"] == cart
    assert event["lines"] == [
        {"sku": "SKU-1", "quantity": 2, "unitPrice": "40.00"},
        {"sku": "SKU-2", "quantity": 1, "unitPrice": "40.00"},
    ]
    assert event["value"] == {"amount": "120.00", "currency": "EUR"}
    assert event["pointsToEarn"] == 120
    assert event["abandonedAfterHours"] == HOURS


async def test_an_order_naming_the_cart_closes_it_and_no_abandonment_follows(cart_server, moved_clock: Clock):
    moved_clock.move_to(datetime(2021, 3, 2, 10, 0, tzinfo=UTC))
    customer, cart, order = unique("cust"), unique("cart"), unique("order")
    async with cart_server.client() as admin:
        await enroll(admin, customer)
        await update(cart_server, cart, customer, ("SKU-1", 1, "40.00"))
        placed = await gql(admin, RECORD_ORDER, input=order_input(order, customer, ("SKU-1", 1, "40.00"), cartId=cart))
        assert placed["recordOrder"]["errors"] == []

    assert await run_abandoned_carts(cart_server, utcnow() + timedelta(days=3)) == 0
    assert await outbox(customer, "cart.abandoned") == []
    closed = await update(cart_server, cart, customer, ("SKU-1", 1, "40.00"))
    assert [e["code"] for e in closed["errors"]] == ["CART_CLOSED"]
    assert order in closed["errors"][0]["message"]


async def test_an_order_after_the_abandonment_recovers_the_cart(cart_server, moved_clock: Clock):
    moved_clock.move_to(datetime(2021, 3, 2, 10, 0, tzinfo=UTC))
    customer, cart, order = unique("cust"), unique("cart"), unique("order")
    async with cart_server.client() as admin:
        await enroll(admin, customer)
    await update(cart_server, cart, customer, ("SKU-1", 1, "40.00"))
    moved_clock.advance(timedelta(hours=HOURS + 1))
    assert await run_abandoned_carts(cart_server, utcnow()) == 1

    async with cart_server.client() as admin:
        placed = await gql(admin, RECORD_ORDER, input=order_input(order, customer, ("SKU-1", 1, "40.00"), cartId=cart))
    assert placed["recordOrder"]["errors"] == []

    stored = await uow_cart(cart_server, cart)
    assert (stored.state, stored.order_external_id, stored.abandonments) == ("recovered", order, 1)
    assert len(await outbox(customer, "cart.abandoned")) == 1


async def test_an_update_after_abandonment_reopens_the_cart_for_a_later_abandonment(cart_server, moved_clock: Clock):
    moved_clock.move_to(datetime(2021, 3, 2, 10, 0, tzinfo=UTC))
    customer, cart = unique("cust"), unique("cart")
    async with cart_server.client() as admin:
        await enroll(admin, customer)
    await update(cart_server, cart, customer, ("SKU-1", 1, "40.00"))
    moved_clock.advance(timedelta(hours=HOURS + 1))
    assert await run_abandoned_carts(cart_server, utcnow()) == 1

    reopened = await update(cart_server, cart, customer, ("SKU-3", 1, "10.00"))
    assert reopened["cart"]["state"] == "open"
    assert await run_abandoned_carts(cart_server, utcnow() + timedelta(hours=1)) == 0
    assert await run_abandoned_carts(cart_server, utcnow() + timedelta(hours=HOURS + 1)) == 1

    events = await outbox(customer, "cart.abandoned")
    assert [e["value"]["amount"] for e in events] == ["40.00", "10.00"]


async def test_bad_carts_are_refused_and_write_nothing(cart_server):
    customer, other, cart = unique("cust"), unique("cust"), unique("cart")
    async with cart_server.client() as admin:
        await enroll(admin, customer)
        await enroll(admin, other)
    bad = await update(cart_server, "bad id!", customer, ("SKU-1", 0, "-1"))
    assert sorted(tuple(e["field"]) for e in bad["errors"]) == [
        ("cartId",),
        ("lines", "0", "quantity"),
        ("lines", "0", "unitPrice"),
    ]
    unknown = await update(cart_server, cart, unique("nobody"), ("SKU-1", 1, "1.00"))
    assert [e["field"] for e in unknown["errors"]] == [["customerExternalId"]]
    assert await uow_cart(cart_server, cart) is None

    await update(cart_server, cart, customer, ("SKU-1", 1, "1.00"))
    stolen = await update(cart_server, cart, other, ("SKU-1", 5, "1.00"))
    assert [e["code"] for e in stolen["errors"]] == ["CART_NOT_YOURS"]
    stored = await uow_cart(cart_server, cart)
    assert stored is not None and (stored.customer_external_id, stored.revision) == (customer, 1)


async def test_a_caller_without_orders_write_may_not_update_carts(cart_server):
    async with cart_server.client(token=None) as anonymous:
        response = await anonymous.post(
            "/graphql", json={"query": UPDATE_CART, "variables": {"input": cart_input("c1", "x", ("S", 1, "1"))}}
        )
    body = response.json()
    assert body["data"] is None and body["errors"], body
    assert await uow_cart(cart_server, "c1") is None


async def uow_cart(server: Server, cart_id: str):
    from app.cart_updates import find_cart

    return await find_cart(uow_of(server), cart_id)


def test_abandoned_after_hours_out_of_range_is_an_error_at_its_line(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(TEST_RULES_DIR, folder)
    (folder / "carts.yaml").write_text("# carts\ncarts:\n  abandoned_after_hours: 0\n")
    out = io.StringIO()
    assert check_folder(folder, out) == 1
    assert out.getvalue().splitlines() == [
        "carts.yaml:3:26: carts.abandoned_after_hours: 0 is less than the minimum of 1",
        "1 error(s)",
    ]
