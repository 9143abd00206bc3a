"""Apollo Client (from the npm registry) in Node runs the storefront's queries against the
API: normalised caching by `id` with no configuration (customers, ledger entries, rewards),
and cursor paging to the end."""

from __future__ import annotations

import asyncio
import json
import shutil

import httpx
import pytest

from tests.conftest import REPO_ROOT, Server, unique
from tests.graphql_client import ADJUST, TOKEN, enroll, gql

APOLLO_DIR = REPO_ROOT / "tests" / "apollo"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(NODE is None or NPM is None, reason="Node.js is not installed")


async def _run(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=APOLLO_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, stderr.decode()[-3000:]
    return stdout.decode()


async def test_apollo_client_caches_by_id_and_pages_a_ledger_to_its_end(admin: httpx.AsyncClient, server: Server):
    if not (APOLLO_DIR / "node_modules" / "@apollo" / "client").is_dir():
        assert NPM is not None
        await _run(NPM, "ci", "--no-audit", "--no-fund")  # exactly the committed lockfile
    customer = unique("apollo")
    await enroll(admin, customer)
    for points in (1, 2, 3, 4, 5):
        data = await gql(admin, ADJUST, input={"customerExternalId": customer, "points": points, "reason": "test"})
        assert data["adjustPoints"]["errors"] == []
    token = (await gql(admin, TOKEN, id=customer))["issueCustomerToken"]["token"]

    assert NODE is not None
    seen = json.loads(await _run(NODE, "storefront.mjs", f"{server.url}/graphql", token))

    assert seen["pages"] == 3  # 2 + 2 + 1, until hasNextPage was false
    assert seen["points"] == [5, 4, 3, 2, 1]  # every page merged, newest first
    customer_keys = [k for k in seen["cacheKeys"] if k.startswith("Customer:")]
    assert len(customer_keys) == 1  # both queries' shapes in one normalised object
    assert seen["rootMe"] == {"__ref": customer_keys[0]}
    assert len([k for k in seen["cacheKeys"] if k.startswith("LedgerEntry:")]) == 5
    assert seen["customerPending"] == 0
    # One normalised Reward per catalogue entry, which the cart preview's rewards reuse.
    assert seen["rewardKeys"] == seen["catalogue"] > 0
    cart = dict(seen["cartRewards"])
    assert cart["monthly"] == 0 and cart["half-off"] == 5  # 15 points held
    assert seen["cartRewardsCached"] == seen["catalogueVerdicts"]
