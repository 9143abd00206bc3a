"""Referrals: a friend gives a customer's code at enrolment; once the friend's first order is
past its return window the job rewards both by the rules; a first order returned in full
takes that back. Refusals write nothing."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.clock import utcnow
from app.jobs import run_jobs
from persistence import models
from persistence import repositories as repo
from rules import load_program
from tests.conftest import TEST_RULES_DIR, Server, make_settings, running_server, unique
from tests.e2e.conftest import uow_of
from tests.graphql_client import CUSTOMER, ENROLL, RECORD_ORDER, enroll, gql, order_input

RETURN_WINDOW = 14
REFERRAL_EVENT_RULES = """
rules:
  - id: referrer-reward
    on: referral.completed
    when: {event: {friend_first_order: true}}
    then: {points: {fixed: 300, pending_days: 0}}
  - id: friend-reward
    on: referral.completed
    when: {event: {role: friend}, customer: {referred: true}}
    then: {points: {fixed: 150, pending_days: 0}}
  - id: referred-first-order
    when: {customer: {referred: true, order_count: 0}}
    then: {points: {fixed: 25}}
"""

REFERRAL_CODE = """
query($id: String!) { customer(externalId: $id) { referralCode referred points { available pending } } }"""

RECORD_RETURN = """
mutation($input: RecordReturnInput!) {
  recordReturn(input: $input) { pointsReversed errors { field code message } }
}"""


def referral_rules(folder: Path) -> Path:
    shutil.copytree(TEST_RULES_DIR, folder)
    program = folder / "program.yaml"
    program.write_text(
        program.read_text().replace(
            "  currency: EUR\n", f"  currency: EUR\n  points: {{pending_days: {RETURN_WINDOW}}}\n", 1
        )
    )
    (folder / "referrals.yaml").write_text(REFERRAL_EVENT_RULES)
    return folder


@pytest.fixture
async def referral_server(server: Server, tmp_path: Path) -> AsyncIterator[Server]:
    folder = referral_rules(tmp_path / "rules")
    async with running_server(make_settings(server.database_url, LOYALTY_RULES_DIR=str(folder))) as running:
        yield running


async def code_of(admin, customer: str) -> str:
    code = (await gql(admin, REFERRAL_CODE, id=customer))["customer"]["referralCode"]
    assert code
    return code


async def enroll_raw(admin, external_id: str, **extra) -> dict:
    request = {"externalId": external_id, "email": f"{external_id}@example.com", **extra}
    return (await gql(admin, ENROLL, input=request))["enrollCustomer"]


async def state(admin, customer: str) -> dict:
    return (await gql(admin, REFERRAL_CODE, id=customer))["customer"]


async def run_referral_job(server: Server, days: int) -> None:
    program = load_program(Path(server.settings.rules_dir))
    await run_jobs(uow_of(server), "referral-completion", utcnow() + timedelta(days=days), program)


async def test_every_customer_has_an_own_referral_code(referral_server):
    async with referral_server.client() as admin:
        one, two = unique("cust"), unique("cust")
        await enroll(admin, one)
        await enroll(admin, two)
        codes = {await code_of(admin, one), await code_of(admin, two)}
    assert len(codes) == 2


async def test_a_referral_rewards_both_once_the_first_order_is_past_its_return_window(referral_server):
    referrer, friend = unique("referrer"), unique("friend")
    async with referral_server.client() as admin:
        await enroll(admin, referrer)
        code = await code_of(admin, referrer)
        linked = await enroll_raw(admin, friend, referralCode=code.lower())
        assert linked["errors"] == []
        assert (await state(admin, friend))["referred"] is True

        order = order_input(unique("order"), friend, ("SKU-1", 1, "40.00"))
        placed = (await gql(admin, RECORD_ORDER, input=order))["recordOrder"]
        # Rules can test being referred: the referred friend's first order earns 25 more.
        assert {r["ruleId"]: r["points"] for r in placed["appliedRules"]} == {
            "base-earn": 40,
            "referred-first-order": 25,
        }

        await run_referral_job(referral_server, RETURN_WINDOW - 1)
        assert (await state(admin, referrer))["points"] == {"available": 0, "pending": 0}

        await run_referral_job(referral_server, RETURN_WINDOW + 1)
        await run_referral_job(referral_server, RETURN_WINDOW + 2)  # a second run awards nothing more

        assert (await state(admin, referrer))["points"] == {"available": 300, "pending": 0}
        assert (await state(admin, friend))["points"] == {"available": 150, "pending": 65}
        ledger = (await gql(admin, CUSTOMER, id=referrer))["customer"]["ledger"]["edges"]
        assert [(e["node"]["kind"], e["node"]["ruleId"], e["node"]["points"]) for e in ledger] == [
            ("EARN", "referrer-reward", 300)
        ]
    events = await models.RewardEvent.filter(type="referral.completed", customer_external_id=referrer)
    assert [
        (e.payload["friendExternalId"], e.payload["referrerPoints"], e.payload["friendPoints"]) for e in events
    ] == [(friend, 300, 150)]


async def test_a_returned_first_order_takes_the_referral_rewards_back(referral_server):
    referrer, friend = unique("referrer"), unique("friend")
    first = unique("order")
    async with referral_server.client() as admin:
        await enroll(admin, referrer)
        await enroll(admin, friend, referralCode=await code_of(admin, referrer))
        await gql(admin, RECORD_ORDER, input=order_input(first, friend, ("SKU-1", 2, "30.00")))
        await run_referral_job(referral_server, RETURN_WINDOW + 1)
        assert (await state(admin, referrer))["points"]["available"] == 300

        back = {"externalId": unique("return"), "orderExternalId": first, "lines": [{"sku": "SKU-1", "quantity": 2}]}
        assert (await gql(admin, RECORD_RETURN, input=back))["recordReturn"]["errors"] == []

        assert (await state(admin, referrer))["points"] == {"available": 0, "pending": 0}
        assert (await state(admin, friend))["points"] == {"available": 0, "pending": 0}
    for customer in (referrer, friend):
        row = await repo.find_customer(customer)
        assert row is not None
        assert await repo.ledger_sums(customer) == repo.to_customer(row).balance


async def test_a_first_order_returned_within_its_window_completes_no_referral(referral_server):
    referrer, friend = unique("referrer"), unique("friend")
    first = unique("order")
    async with referral_server.client() as admin:
        await enroll(admin, referrer)
        await enroll(admin, friend, referralCode=await code_of(admin, referrer))
        await gql(admin, RECORD_ORDER, input=order_input(first, friend, ("SKU-1", 1, "30.00")))
        back = {"externalId": unique("return"), "orderExternalId": first, "lines": [{"sku": "SKU-1", "quantity": 1}]}
        await gql(admin, RECORD_RETURN, input=back)
        await run_referral_job(referral_server, RETURN_WINDOW + 1)
        # A later order does not revive it: the referral was about the first one.
        await gql(admin, RECORD_ORDER, input=order_input(unique("order"), friend, ("SKU-1", 1, "30.00")))
        await run_referral_job(referral_server, RETURN_WINDOW + 20)
        assert (await state(admin, referrer))["points"] == {"available": 0, "pending": 0}
    assert (await models.Referral.get(friend__external_id=friend)).status == "void"


async def test_refused_referrals_name_their_reason_and_write_nothing(referral_server):
    earlier, referrer, friend = unique("earlier"), unique("referrer"), unique("friend")
    async with referral_server.client() as admin:
        await enroll(admin, earlier)
        await enroll(admin, referrer)
        code = await code_of(admin, referrer)
        other_code = await code_of(admin, earlier)

        unknown = await enroll_raw(admin, unique("cust"), referralCode="NO-SUCH-CODE")
        same_person = await gql(
            admin,
            ENROLL,
            input={"externalId": unique("cust"), "email": f"{referrer}@example.com", "referralCode": code},
        )
        later = await enroll_raw(admin, earlier, referralCode=code)
        await enroll(admin, friend, referralCode=code)
        second = await enroll_raw(admin, friend, referralCode=other_code)
        self_code = await enroll_raw(admin, referrer, referralCode=code)

        assert [e["code"] for e in unknown["errors"]] == ["REFERRAL_CODE_UNKNOWN"]
        assert unknown["errors"][0]["field"] == ["referralCode"]
        assert [e["code"] for e in same_person["enrollCustomer"]["errors"]] == ["SELF_REFERRAL"]
        assert [e["code"] for e in later["errors"]] == ["REFERRER_ENROLLED_LATER"]
        assert [e["code"] for e in second["errors"]] == ["ALREADY_REFERRED"]
        assert [e["code"] for e in self_code["errors"]] == ["SELF_REFERRAL"]
        assert (await state(admin, earlier))["referred"] is False
    assert await models.Customer.filter(email=f"{referrer}@example.com").count() == 1
    referral = await models.Referral.get(friend__external_id=friend).select_related("referrer")
    assert referral.referrer.external_id == referrer


async def test_a_customer_enrolled_before_the_link_can_give_the_code_until_the_first_order(referral_server):
    referrer, friend, ordered = unique("referrer"), unique("friend"), unique("ordered")
    async with referral_server.client() as admin:
        await enroll(admin, referrer)
        await enroll(admin, friend)
        await enroll(admin, ordered)
        await gql(admin, RECORD_ORDER, input=order_input(unique("order"), ordered, ("SKU-1", 1, "5.00")))
        code = await code_of(admin, referrer)

        linked = await enroll_raw(admin, friend, referralCode=code)
        too_late = await enroll_raw(admin, ordered, referralCode=code)
        again = await enroll_raw(admin, friend)

    assert linked["errors"] == [] and linked["customer"]["externalId"] == friend
    assert [e["code"] for e in too_late["errors"]] == ["REFERRAL_TOO_LATE"]
    assert [e["code"] for e in again["errors"]] == ["ALREADY_EXISTS"]


async def test_two_friends_may_enrol_with_one_code_at_once(referral_server):
    referrer = unique("referrer")
    friends = [unique("friend") for _ in range(4)]
    async with referral_server.client() as admin:
        await enroll(admin, referrer)
        code = await code_of(admin, referrer)
        results = await asyncio.gather(*(enroll_raw(admin, f, referralCode=code) for f in friends))
    assert [r["errors"] for r in results] == [[]] * 4
    assert await models.Referral.filter(referrer__external_id=referrer).count() == 4


async def test_one_friend_enrolling_twice_at_once_gets_one_referrer(referral_server):
    one, two, friend = unique("referrer"), unique("referrer"), unique("friend")
    async with referral_server.client() as admin:
        await enroll(admin, one)
        await enroll(admin, two)
        codes = [await code_of(admin, one), await code_of(admin, two)]
        results = await asyncio.gather(*(enroll_raw(admin, friend, referralCode=c) for c in codes * 2))
    assert sum(1 for r in results if r["errors"] == []) == 1
    for r in results:
        assert [e["code"] for e in r["errors"]] in ([], ["ALREADY_EXISTS"], ["ALREADY_REFERRED"])
    assert await models.Referral.filter(friend__external_id=friend).count() == 1


async def test_the_completion_job_run_twice_at_once_rewards_once(referral_server):
    referrer, friend = unique("referrer"), unique("friend")
    async with referral_server.client() as admin:
        await enroll(admin, referrer)
        await enroll(admin, friend, referralCode=await code_of(admin, referrer))
        await gql(admin, RECORD_ORDER, input=order_input(unique("order"), friend, ("SKU-1", 1, "10.00")))
        await asyncio.gather(*(run_referral_job(referral_server, RETURN_WINDOW + 1) for _ in range(3)))
        assert (await state(admin, referrer))["points"] == {"available": 300, "pending": 0}
    assert await models.RewardEvent.filter(type="referral.completed", customer_external_id=referrer).count() == 1
