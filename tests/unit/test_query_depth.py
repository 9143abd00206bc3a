from api.schema import build_schema
from app.settings import Settings

DEEP = '{ customer(externalId: "x") { ledger { edges { node { points } } } } }'


async def test_a_query_deeper_than_the_limit_is_refused_before_it_runs():
    schema = build_schema(Settings.from_env({"LOYALTY_MAX_QUERY_DEPTH": "3"}))
    result = await schema.execute(DEEP)
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message


async def test_a_query_within_the_limit_passes_validation():
    schema = build_schema(Settings.from_env({"LOYALTY_MAX_QUERY_DEPTH": "10"}))
    result = await schema.execute(DEEP, context_value=None)
    # It gets as far as running (and fails there for want of a request context).
    assert result.errors and "depth" not in result.errors[0].message
