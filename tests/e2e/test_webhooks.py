"""Partners' webhook endpoints: signed deliveries, retries, the delivery log, safety."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import TEST_DATABASE, Server, make_settings, running_server, unique
from tests.graphql_client import ADJUST, enroll, gql
from tests.webhook_receiver import receiving

REGISTER = """
mutation($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) {
    webhook { id url secret eventTypes enabled }
    errors { field code message }
  }
}"""

WEBHOOK = """
query($id: String!) {
  webhook(id: $id) {
    id enabled disabledReason lastSuccessAt
    deliveries(first: 10) {
      edges { node { eventId eventType status attempts lastStatusCode lastError
                     attemptLog { attempt statusCode latencyMs error } } }
    }
  }
}"""


@pytest.fixture(scope="module")
async def strict(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A server as deployed: webhook URLs must point to public addresses. (Its delivery
    worker refuses the tests' loopback receivers too: the tests that use it come last and
    register none.)"""
    settings = make_settings(database_url, LOYALTY_WEBHOOKS_ALLOW_PRIVATE_TARGETS="false")
    async with running_server(settings) as running, running.client() as client:
        yield client


@pytest.fixture
async def partner(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as client:
        yield client
        for hook in (await gql(client, "{ webhooks { id } }"))["webhooks"]:
            await gql(client, "mutation($id: String!) { deleteWebhook(id: $id) { deletedId } }", id=hook["id"])


async def register(client: httpx.AsyncClient, url: str, types: list[str] | None = None) -> dict:
    data = await gql(client, REGISTER, input={"url": url, "eventTypes": types or ["points.adjusted"]})
    assert data["registerWebhook"]["errors"] == [], data
    return data["registerWebhook"]["webhook"]


async def adjust(client: httpx.AsyncClient, customer: str, points: int) -> None:
    data = await gql(client, ADJUST, input={"customerExternalId": customer, "points": points, "reason": "hook"})
    assert data["adjustPoints"]["errors"] == []


async def delivered(client: httpx.AsyncClient, webhook_id: str, count: int = 1) -> None:
    """Waits until the worker has recorded `count` deliveries as delivered."""
    for _ in range(100):
        edges = (await gql(client, WEBHOOK, id=webhook_id))["webhook"]["deliveries"]["edges"]
        if sum(edge["node"]["status"] == "delivered" for edge in edges) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"webhook {webhook_id}: fewer than {count} deliveries recorded as delivered")


async def test_a_webhook_receives_each_event_signed_per_standard_webhooks(partner):
    customer = unique("hook")
    await enroll(partner, customer)
    async with receiving() as receiver:
        hook = await register(partner, receiver.url)
        await adjust(partner, customer, 12)
        [delivery] = await receiver.wait_for(1)

    message = delivery.verified(hook["secret"])
    assert message["type"] == "points.adjusted"
    assert message["data"]["customerExternalId"] == customer
    assert message["data"]["points"] == 12
    assert message["data"]["id"] == delivery.id
    assert message["data"]["sequence"] == 2
    assert message["timestamp"]
    assert hook["secret"].startswith("whsec_")
    with pytest.raises(WebhookVerificationError):
        Verifier("whsec_" + "A" * 44).verify(delivery.body, delivery.headers)


async def test_a_receiver_that_fails_gets_the_event_again_with_the_same_id_and_a_2xx_ends_it(partner):
    customer = unique("retry")
    await enroll(partner, customer)
    async with receiving("500", "204") as failing, receiving("close") as closing, receiving("hang") as hanging:
        hooks = [await register(partner, r.url) for r in (failing, closing, hanging)]
        await adjust(partner, customer, 3)
        # The first retry comes 4 to 6 s after the failed attempt.
        for receiver in (failing, closing, hanging):
            await receiver.wait_for(2, within=15)
        await asyncio.sleep(1.5)
        counts = [len(r.deliveries) for r in (failing, closing, hanging)]
        ids = {d.id for r in (failing, closing, hanging) for d in r.deliveries}
        for receiver, hook in zip((failing, closing, hanging), hooks, strict=True):
            for delivery in receiver.deliveries:
                assert delivery.verified(hook["secret"])["data"]["points"] == 3

    assert counts == [2, 2, 2]  # nothing after the 2xx
    assert len(ids) == 1
    log = (await gql(partner, WEBHOOK, id=hooks[0]["id"]))["webhook"]["deliveries"]["edges"][0]["node"]
    assert log["status"] == "delivered"
    assert log["attempts"] == 2
    assert [(a["attempt"], a["statusCode"]) for a in log["attemptLog"]] == [(1, 500), (2, 204)]
    assert log["attemptLog"][0]["error"] == "HTTP 500"
    assert all(a["latencyMs"] >= 0 for a in log["attemptLog"])
    timed_out = (await gql(partner, WEBHOOK, id=hooks[2]["id"]))["webhook"]["deliveries"]["edges"][0]["node"]
    assert timed_out["attemptLog"][0]["error"] == "no answer within 1 s"


async def test_an_endpoint_that_answers_410_gone_is_disabled_at_once_and_says_why(partner):
    customer = unique("gone")
    await enroll(partner, customer)
    async with receiving("410") as receiver:
        hook = await register(partner, receiver.url)
        await adjust(partner, customer, 1)
        await receiver.wait_for(1)
        for _ in range(50):
            found = (await gql(partner, WEBHOOK, id=hook["id"]))["webhook"]
            if not found["enabled"]:
                break
            await asyncio.sleep(0.1)
        await adjust(partner, customer, 2)
        await asyncio.sleep(1)
        assert len(receiver.deliveries) == 1

    assert found["enabled"] is False
    assert "410 Gone" in found["disabledReason"]
    assert found["deliveries"]["edges"][0]["node"]["status"] == "failed"


async def test_a_rotated_secret_signs_beside_the_old_one_until_receivers_switch(partner):
    customer = unique("rotate")
    await enroll(partner, customer)
    async with receiving() as receiver:
        hook = await register(partner, receiver.url)
        rotated = await gql(
            partner, "mutation($id: String!) { rotateWebhookSecret(id: $id) { webhook { secret } } }", id=hook["id"]
        )
        await adjust(partner, customer, 4)
        [delivery] = await receiver.wait_for(1)

    new_secret = rotated["rotateWebhookSecret"]["webhook"]["secret"]
    assert new_secret != hook["secret"]
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    assert delivery.verified(hook["secret"]) == delivery.verified(new_secret)


async def test_any_event_can_be_redelivered_with_its_id(partner):
    customer = unique("again")
    await enroll(partner, customer)
    async with receiving() as receiver:
        hook = await register(partner, receiver.url)
        await adjust(partner, customer, 6)
        [first] = await receiver.wait_for(1)
        # Once recorded: recording an attempt still in flight would overwrite the new schedule.
        await delivered(partner, hook["id"])
        data = await gql(
            partner,
            "mutation($w: String!, $e: String!) { redeliverEvent(webhookId: $w, eventId: $e)"
            " { delivery { eventId eventType status attempts attemptLog { attempt } } errors { code } } }",
            w=hook["id"],
            e=first.id,
        )
        assert data["redeliverEvent"]["errors"] == []
        await receiver.wait_for(2)

    assert data["redeliverEvent"]["delivery"] == {
        "eventId": first.id,
        "eventType": "points.adjusted",
        "status": "pending",
        "attempts": 0,
        "attemptLog": [],
    }

    assert receiver.deliveries[1].id == first.id
    assert receiver.deliveries[1].verified(hook["secret"]) == first.verified(hook["secret"])


async def test_a_redelivery_asked_for_while_an_attempt_is_in_flight_is_not_lost(partner):
    customer = unique("race")
    await enroll(partner, customer)
    async with receiving("hold") as receiver:
        hook = await register(partner, receiver.url)
        await adjust(partner, customer, 4)
        [first] = await receiver.wait_for(1)
        # The first attempt is in flight (its answer held): the redelivery is queued now,
        # and the attempt's recording comes after it.
        data = await gql(
            partner,
            "mutation($w: String!, $e: String!) { redeliverEvent(webhookId: $w, eventId: $e)"
            " { delivery { status attempts } errors { code } } }",
            w=hook["id"],
            e=first.id,
        )
        assert data["redeliverEvent"] == {"delivery": {"status": "pending", "attempts": 0}, "errors": []}
        receiver.released.set()
        await receiver.wait_for(2)
        await delivered(partner, hook["id"])
        [edge] = (await gql(partner, WEBHOOK, id=hook["id"]))["webhook"]["deliveries"]["edges"]

    assert receiver.deliveries[1].id == first.id
    assert edge["node"]["status"] == "delivered"
    # Both attempts are in the log; the redelivery's schedule counts its own.
    assert [a["statusCode"] for a in edge["node"]["attemptLog"]] == [204, 204]
    assert edge["node"]["attempts"] == 1


async def test_the_delivery_log_pages_newest_first_and_a_rotation_keeps_the_last_success(partner):
    customer = unique("log")
    await enroll(partner, customer)
    page = """
    query($id: String!, $after: String) {
      webhook(id: $id) {
        lastSuccessAt
        deliveries(first: 1, after: $after) {
          edges { cursor node { eventId eventType status deliveredAt attemptLog { attempt statusCode attemptedAt } } }
          pageInfo { hasNextPage endCursor }
        }
      }
    }"""
    async with receiving() as receiver:
        hook = await register(partner, receiver.url)
        await adjust(partner, customer, 1)
        await adjust(partner, customer, 2)
        events = [d.id for d in await receiver.wait_for(2)]
        await delivered(partner, hook["id"], count=2)
    newest = (await gql(partner, page, id=hook["id"]))["webhook"]
    older = (await gql(partner, page, id=hook["id"], after=newest["deliveries"]["pageInfo"]["endCursor"]))["webhook"]
    rotated = await gql(
        partner,
        "mutation($id: String!) { rotateWebhookSecret(id: $id) { webhook { secret lastSuccessAt createdAt } } }",
        id=hook["id"],
    )

    first, second = newest["deliveries"], older["deliveries"]
    assert [e["node"]["eventId"] for e in first["edges"] + second["edges"]] == sorted(events, key=int, reverse=True)
    assert (first["pageInfo"]["hasNextPage"], second["pageInfo"]["hasNextPage"]) == (True, False)
    node = first["edges"][0]["node"]
    assert (node["eventType"], node["status"]) == ("points.adjusted", "delivered")
    assert [(a["attempt"], a["statusCode"]) for a in node["attemptLog"]] == [(1, 204)]
    # Times come back in UTC with their offset from either database.
    for moment in (newest["lastSuccessAt"], node["deliveredAt"], node["attemptLog"][0]["attemptedAt"]):
        assert moment.endswith("+00:00"), moment
    webhook = rotated["rotateWebhookSecret"]["webhook"]
    assert webhook["secret"] != hook["secret"]
    assert webhook["lastSuccessAt"] == newest["lastSuccessAt"]
    assert webhook["createdAt"].endswith("+00:00")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/hook",
    ],
)
async def test_a_url_that_points_inside_the_network_is_refused_at_registration(strict, url):
    data = await gql(strict, REGISTER, input={"url": url})
    assert data["registerWebhook"]["webhook"] is None
    [error] = data["registerWebhook"]["errors"]
    assert (error["code"], error["field"]) == ("WEBHOOK_TARGET_REFUSED", ["url"])


@pytest.mark.parametrize(
    ("url", "types", "field"),
    [
        ("http://example.com/hook", None, ["url"]),
        ("https://user:pw@example.com/hook", None, ["url"]),
        ("not a url", None, ["url"]),
        ("https://example.com/hook", ["points.earned", "points.earnd"], ["eventTypes", "1"]),
        ("https://example.com/hook", [], ["eventTypes"]),
    ],
)
async def test_a_bad_webhook_is_refused_naming_the_field_and_nothing_is_registered(strict, url, types, field):
    before = (await gql(strict, "{ webhooks { id } }"))["webhooks"]
    data = await gql(strict, REGISTER, input={"url": url, "eventTypes": types})
    assert [e["field"] for e in data["registerWebhook"]["errors"]] == [field]
    assert (await gql(strict, "{ webhooks { id } }"))["webhooks"] == before


async def test_webhooks_need_an_api_key_with_events_read(server: Server):
    async with server.client(token=None) as anonymous:
        response = await anonymous.post(
            "/graphql", json={"query": REGISTER, "variables": {"input": {"url": "https://example.com"}}}
        )
    assert "events:read" in json.dumps(response.json()["errors"])


async def test_an_event_committed_before_a_crash_goes_out_after_restart_with_the_same_id(tmp_path):
    if TEST_DATABASE != "sqlite":
        # It needs a database no other server delivers from; the SQLite run gives it one.
        pytest.skip("runs on a database of its own, in the SQLite run")
    database_url = f"sqlite://{tmp_path / 'crash.db'}"
    settings = make_settings(database_url)
    customer = unique("crash")
    async with receiving("hang") as receiver:
        async with running_server(settings) as first_life, first_life.client() as client:
            await enroll(client, customer)
            hook = await register(client, receiver.url)
            await adjust(client, customer, 9)
            await receiver.wait_for(1)  # sent, and the service dies before hearing back
        async with running_server(settings) as second_life, second_life.client() as client:
            await receiver.wait_for(2, within=20)
            await asyncio.sleep(0.5)
            log = (await gql(client, WEBHOOK, id=hook["id"]))["webhook"]["deliveries"]["edges"]

    first, second = receiver.deliveries
    assert first.id == second.id
    assert second.verified(hook["secret"])["data"]["points"] == 9
    assert log[0]["node"]["status"] == "delivered"


async def test_an_endpoint_can_be_disabled_updated_enabled_and_deleted(partner):
    hook = await register(partner, "http://127.0.0.1:9/hook")
    fields = "webhook { id url enabled disabledReason eventTypes } errors { field code }"

    disabled = await gql(partner, f"mutation($id: String!) {{ disableWebhook(id: $id) {{ {fields} }} }}", id=hook["id"])
    updated = await gql(
        partner,
        f"mutation($input: UpdateWebhookInput!) {{ updateWebhook(input: $input) {{ {fields} }} }}",
        input={"id": hook["id"], "url": "http://127.0.0.1:10/hook", "eventTypes": None, "enabled": True},
    )
    bad = await gql(
        partner,
        f"mutation($input: UpdateWebhookInput!) {{ updateWebhook(input: $input) {{ {fields} }} }}",
        input={"id": hook["id"], "eventTypes": ["nope"]},
    )
    deleted = await gql(partner, "mutation($id: String!) { deleteWebhook(id: $id) { deletedId } }", id=hook["id"])
    missing = await gql(partner, "mutation($id: String!) { deleteWebhook(id: $id) { errors { code } } }", id=hook["id"])

    assert disabled["disableWebhook"]["webhook"]["enabled"] is False
    assert "Disabled by" in disabled["disableWebhook"]["webhook"]["disabledReason"]
    assert updated["updateWebhook"]["webhook"] == {
        "id": hook["id"],
        "url": "http://127.0.0.1:10/hook",
        "enabled": True,
        "disabledReason": None,
        "eventTypes": None,
    }
    assert bad["updateWebhook"]["errors"] == [{"field": ["eventTypes", "0"], "code": "INVALID"}]
    assert deleted["deleteWebhook"]["deletedId"] == hook["id"]
    assert missing["deleteWebhook"]["errors"] == [{"code": "NOT_FOUND"}]
