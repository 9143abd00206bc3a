"""Failed authentications are limited per client: after too many, 429 with Retry-After."""

from __future__ import annotations

from tests.conftest import make_settings, running_server
from tests.graphql_client import gql_raw

ME = "{ me { externalId } }"
RULES = "{ rulesVersion { version } }"


async def test_a_client_that_keeps_failing_to_authenticate_is_refused_for_a_while(database_url):
    settings = make_settings(database_url, LOYALTY_AUTH_FAILURE_LIMIT="3", LOYALTY_AUTH_FAILURE_WINDOW_SECONDS="120")
    async with running_server(settings) as server:
        async with server.client("lk_nothing_real") as guesser:
            statuses = [(await gql_raw(guesser, ME)).status_code for _ in range(3)]
            refused = await gql_raw(guesser, ME)
        async with server.client("not.a.jwt") as other_credentials:
            refused_again = await gql_raw(other_credentials, ME)

    assert statuses == [401, 401, 401]
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 120
    assert refused_again.status_code == 429


async def test_a_busy_client_with_good_credentials_is_never_throttled(database_url):
    settings = make_settings(database_url, LOYALTY_AUTH_FAILURE_LIMIT="2")
    async with running_server(settings) as server, server.client() as client:
        statuses = {(await gql_raw(client, RULES)).status_code for _ in range(10)}

    assert statuses == {200}
