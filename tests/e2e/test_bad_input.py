"""Bad input gets a UserError with a stable code, and nothing is written."""

from __future__ import annotations

import pytest

from app import reads
from persistence import repositories as repo
from tests.conftest import unique
from tests.graphql_client import ADJUST, ENROLL, RECORD_ORDER, enroll, gql, order_input


async def _errors(admin, query, **variables):
    data = await gql(admin, query, **variables)
    payload = next(iter(data.values()))
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_an_order_for_an_unknown_customer_is_refused(admin):
    errors = await _errors(admin, RECORD_ORDER, input=order_input(unique("o"), "nobody-here", ("S", 1, "1.00")))
    assert errors == [("CUSTOMER_NOT_FOUND", ["customerExternalId"])]


async def test_enrolling_a_customer_twice_is_refused(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    errors = await _errors(admin, ENROLL, input={"externalId": customer, "email": "x@example.com"})
    assert errors == [("ALREADY_EXISTS", ["externalId"])]


@pytest.mark.parametrize(
    ("lines", "extra", "expected"),
    [
        ([], {}, [("EMPTY_ORDER", ["lines"])]),
        ([("S", 0, "1.00")], {}, [("INVALID_QUANTITY", ["lines", "0", "quantity"])]),
        ([("S", -2, "1.00")], {}, [("INVALID_QUANTITY", ["lines", "0", "quantity"])]),
        ([("S", 1, "-1.00")], {}, [("INVALID_PRICE", ["lines", "0", "unitPrice"])]),
        ([("S", 1, "1.001")], {}, [("INVALID_AMOUNT", ["lines", "0", "unitPrice"])]),
        ([("S", 1, "1.00")], {"currency": "EUX"}, [("UNKNOWN_CURRENCY", ["currency"])]),
        ([("S", 1, "1.00")], {"shippingAmount": "-5"}, [("INVALID_PRICE", ["shippingAmount"])]),
    ],
)
async def test_a_malformed_order_is_refused_and_writes_nothing(admin, lines, extra, expected):
    customer = unique("cust")
    await enroll(admin, customer)
    order = unique("order")

    errors = await _errors(admin, RECORD_ORDER, input=order_input(order, customer, *lines, **extra))

    assert errors == expected
    assert await repo.find_order(order) is None
    assert (await repo.ledger_sums(customer)).available == 0


async def test_every_problem_in_an_order_is_reported_at_once(admin):
    errors = await _errors(
        admin,
        RECORD_ORDER,
        input=order_input("bad id!", "cust x", ("S", 0, "-1"), currency="???"),
    )
    assert {code for code, _ in errors} == {"INVALID_ID", "UNKNOWN_CURRENCY", "INVALID_QUANTITY", "INVALID_PRICE"}


async def test_a_malformed_external_id_is_refused(admin):
    errors = await _errors(admin, ENROLL, input={"externalId": "has spaces", "email": "a@example.com"})
    assert errors == [("INVALID_ID", ["externalId"])]


async def test_a_malformed_email_is_refused(admin):
    errors = await _errors(admin, ENROLL, input={"externalId": unique("c"), "email": "not-an-email"})
    assert errors == [("INVALID_EMAIL", ["email"])]


async def test_a_debit_below_zero_is_refused_and_writes_nothing(admin):
    customer = unique("cust")
    await enroll(admin, customer)
    await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 10, "reason": "goodwill"})

    errors = await _errors(admin, ADJUST, input={"customerExternalId": customer, "points": -11, "reason": "oops"})

    assert errors == [("INSUFFICIENT_POINTS", ["points"])]
    assert (await repo.ledger_sums(customer)).available == 10


async def test_a_manual_adjustment_is_audited_in_the_ledger(server, admin):
    customer = unique("cust")
    await enroll(admin, customer)
    data = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": 25, "reason": "late parcel"})
    assert data["adjustPoints"]["points"]["available"] == 25
    rows, _ = await reads.ledger_page(server.uow, customer, 10, None)
    assert [(r.kind, r.points, r.reason) for r in rows] == [("adjust", 25, "late parcel")]


async def test_a_mutation_over_get_is_refused(server):
    async with server.client() as client:
        response = await client.get(
            "/graphql",
            params={
                "query": 'mutation { adjustPoints(input: {customerExternalId: "x", points: 1, reason: "r"})'
                " { errors { code } } }"
            },
        )
    assert response.status_code == 400
