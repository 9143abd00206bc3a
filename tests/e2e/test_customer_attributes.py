"""Custom customer attributes (declared in the rule files, set on enrolment and by
updateCustomer, tested by rules) and experiments whose variant every earn entry records."""

from __future__ import annotations

from rules import load_program
from tests.conftest import TEST_RULES_DIR, unique
from tests.graphql_client import RECORD_ORDER, enroll, gql, order_input

UPDATE = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { externalId email name tags attributes }
    errors { field code message }
  }
}"""

ENROLL_WITH_ATTRIBUTES = """
mutation($input: EnrollCustomerInput!) {
  enrollCustomer(input: $input) {
    customer { externalId attributes }
    errors { field code message }
  }
}"""

LEDGER = """
query($id: String!) {
  customer(externalId: $id) {
    name attributes
    ledger(first: 10) { edges { node { ruleId points variant } } }
  }
}"""

RECORD_EVENT = """
mutation($input: RecordEventInput!) {
  recordEvent(input: $input) { pointsEarned errors { field code message } }
}"""


async def enroll_with(client, customer: str, attributes: dict) -> dict:
    request = {"externalId": customer, "email": f"{customer}@example.com", "attributes": attributes}
    return (await gql(client, ENROLL_WITH_ATTRIBUTES, input=request))["enrollCustomer"]


async def update(client, customer: str, **changes) -> dict:
    return (await gql(client, UPDATE, input={"externalId": customer, **changes}))["updateCustomer"]


async def order_points(client, customer: str) -> dict[str, int]:
    request = order_input(unique("order"), customer, ("CRIB", 1, "10.00"))
    payload = (await gql(client, RECORD_ORDER, input=request))["recordOrder"]
    assert payload["errors"] == []
    return {rule["ruleId"]: rule["points"] for rule in payload["appliedRules"]}


async def test_an_attribute_set_by_update_customer_makes_a_rule_apply(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    assert "new-parent-bonus" not in await order_points(admin, customer)

    payload = await update(admin, customer, attributes={"new_parent": True, "segment": "premium"})

    assert payload["errors"] == []
    assert payload["customer"]["attributes"] == {"new_parent": True, "segment": "premium"}
    assert (await order_points(admin, customer))["new-parent-bonus"] == 40


async def test_update_customer_merges_attributes_and_null_removes_one(admin):
    customer = unique("cust")
    await enroll_with(admin, customer, {"new_parent": True, "due_date": "2026-03-14"})

    payload = await update(
        admin, customer, name="Ada", tags=["vip"], attributes={"new_parent": None, "segment": "budget"}
    )

    assert payload["errors"] == []
    assert payload["customer"]["name"] == "Ada"
    assert payload["customer"]["tags"] == ["vip"]
    assert payload["customer"]["attributes"] == {"due_date": "2026-03-14", "segment": "budget"}
    assert "new-parent-bonus" not in await order_points(admin, customer)


async def test_an_undeclared_or_mistyped_attribute_is_refused_and_nothing_is_written(admin):
    customer = unique("cust")
    await enroll(admin, customer)

    wrong = {"new_parent": "yes", "shoe_size": 42, "segment": "gold", "due_date": "2026-02-30"}
    payload = await update(admin, customer, name="Changed", attributes=wrong)

    assert payload["customer"] is None
    problems = {tuple(e["field"]): e["code"] for e in payload["errors"]}
    assert problems == {
        ("attributes", "new_parent"): "INVALID_ATTRIBUTE",
        ("attributes", "shoe_size"): "INVALID_ATTRIBUTE",
        ("attributes", "segment"): "INVALID_ATTRIBUTE",
        ("attributes", "due_date"): "INVALID_ATTRIBUTE",
    }
    seen = (await gql(admin, LEDGER, id=customer))["customer"]
    assert (seen["name"], seen["attributes"]) == (None, {})


async def test_enrolment_refuses_an_undeclared_attribute(admin):
    customer = unique("cust")
    payload = await enroll_with(admin, customer, {"pregnant": True})
    assert payload["customer"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["attributes", "pregnant"], "INVALID_ATTRIBUTE")]


async def test_updating_an_unknown_customer_is_customer_not_found(admin):
    payload = await update(admin, unique("nobody"), name="X")
    assert [e["code"] for e in payload["errors"]] == ["CUSTOMER_NOT_FOUND"]


async def test_every_earn_entry_of_an_experiment_rule_records_the_customers_variant(admin):
    program = load_program(TEST_RULES_DIR)
    customers = [unique("cust") for _ in range(6)]
    for customer in customers:
        await enroll(admin, customer)
        event = {"externalId": unique("ev"), "customerExternalId": customer, "type": "custom.app_opened"}
        payload = (await gql(admin, RECORD_EVENT, input=event))["recordEvent"]
        assert payload["errors"] == []
        variant = program.variants_of(customer)["app-welcome"]
        assert payload["pointsEarned"] == {"small": 10, "large": 30}[variant]
        [edge] = (await gql(admin, LEDGER, id=customer))["customer"]["ledger"]["edges"]
        assert edge["node"]["variant"] == f"app-welcome/{variant}"
        assert edge["node"]["ruleId"] == f"app-welcome-{variant}"
