"""A customer's stored profile read back alike by every path (enrolment's insert, the
order's customer loader, the locked row updateCustomer writes, the storefront read), on
both databases: the rows persistence builds from plain statements convert dates, times,
JSON and decimals as Tortoise's models did."""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal

from persistence import repositories as repo
from tests.conftest import unique
from tests.graphql_client import gql, order_input

PROFILE = "externalId email name birthday tags attributes enrolledAt orderCount lastOrderAt referralCode referred"

ENROLL = (
    "mutation($input: EnrollCustomerInput!) { enrollCustomer(input: $input) {"
    f" customer {{ {PROFILE} }} errors {{ field code message }} }} }}"
)
UPDATE = (
    "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {"
    f" customer {{ {PROFILE} }} errors {{ field code message }} }} }}"
)
ORDER = (
    "mutation($input: RecordOrderInput!) { recordOrder(input: $input) {"
    f" order {{ customer {{ {PROFILE} }} }} errors {{ code message }} }} }}"
)
READ = f"query($id: String!) {{ customer(externalId: $id) {{ {PROFILE} }} }}"

ATTRIBUTES = {"new_parent": True, "due_date": "2026-03-14", "segment": "premium"}


async def test_a_profile_reads_back_alike_on_every_path(admin):
    customer = unique("cust")
    enrolled = (
        await gql(
            admin,
            ENROLL,
            input={
                "externalId": customer,
                "email": f"{customer}@example.com",
                "name": "Zoë Ångström",
                "birthday": "1990-02-28",
                "tags": ["vip", "newsletter"],
                "attributes": ATTRIBUTES,
            },
        )
    )["enrollCustomer"]
    assert enrolled["errors"] == []
    profile = enrolled["customer"]
    assert profile["name"] == "Zoë Ångström"
    assert profile["birthday"] == "1990-02-28"
    assert profile["tags"] == ["vip", "newsletter"]
    assert profile["attributes"] == ATTRIBUTES
    assert profile["referralCode"] and profile["referred"] is False
    assert profile["orderCount"] == 0 and profile["lastOrderAt"] is None
    assert (await gql(admin, READ, id=customer))["customer"] == profile

    for amount in ("0.10", "0.20"):
        request = order_input(unique("order"), customer, ("S", 1, amount))
        recorded = (await gql(admin, ORDER, input=request))["recordOrder"]
        assert recorded["errors"] == []
    ordered = recorded["order"]["customer"]
    assert ordered["orderCount"] == 2 and ordered["lastOrderAt"] is not None
    assert ordered == (await gql(admin, READ, id=customer))["customer"]
    assert {k: v for k, v in ordered.items() if k not in ("orderCount", "lastOrderAt")} == {
        k: v for k, v in profile.items() if k not in ("orderCount", "lastOrderAt")
    }

    changes = {"externalId": customer, "tags": [], "attributes": {"segment": None}}
    updated = (await gql(admin, UPDATE, input=changes))["updateCustomer"]
    assert updated["errors"] == []
    assert updated["customer"]["tags"] == []
    assert updated["customer"]["attributes"] == {"new_parent": True, "due_date": "2026-03-14"}
    assert updated["customer"]["name"] == "Zoë Ångström"
    assert updated["customer"] == (await gql(admin, READ, id=customer))["customer"]

    row = await repo.find_customer(customer)
    assert row is not None
    assert row.birthday == date(1990, 2, 28)
    assert row.enrolled_at.tzinfo is not None and row.enrolled_at.utcoffset() == UTC.utcoffset(None)
    assert row.last_order_at is not None and row.last_order_at.utcoffset() == UTC.utcoffset(None)
    # Exact, whatever arithmetic the database did on the column (SQLite adds floats).
    assert row.lifetime_spend == Decimal("0.30")
    assert row.tags == [] and row.attributes == {"new_parent": True, "due_date": "2026-03-14"}


async def test_the_order_loader_reads_many_customers_at_once(admin):
    customers = [unique("cust") for _ in range(3)]
    for customer in customers:
        request = {"externalId": customer, "email": f"{customer}@example.com"}
        enrolled = (await gql(admin, ENROLL, input=request))["enrollCustomer"]
        assert enrolled["errors"] == []

    found = await repo.customers_by_external_ids([*customers, customers[0], unique("nobody")])

    assert sorted(found) == sorted(customers)
    assert {row.email for row in found.values()} == {f"{c}@example.com" for c in customers}
    assert all(row.tags == [] and row.attributes == {} and row.name is None for row in found.values())
