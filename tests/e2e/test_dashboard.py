"""/dashboard in a real headless browser (Debian's chromium): it signs in with a key given
in the address's fragment, draws its charts from programMetrics, and shows the figures the
API answers. Skipped where chromium is not installed (CI installs it: .ci/run)."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import BOOTSTRAP_KEY, REPO_ROOT, Server
from tests.e2e.analytics_data import server_with_history
from tests.graphql_client import gql

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

SCREENSHOT = REPO_ROOT / "tests" / "artifacts" / "dashboard.png"


@pytest.fixture(scope="module")
async def history(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with server_with_history(Path(tmp_path_factory.mktemp("dashboard"))) as server:
        yield server


async def _chromium(*args: str) -> str:
    assert CHROMIUM
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--virtual-time-budget=10000",
        "--window-size=1280,1600",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return out.decode()


def _address(server: Server) -> str:
    return f"{server.url}/dashboard#key={BOOTSTRAP_KEY}&from=2025-02-01&to=2025-03-31"


async def test_the_dashboard_draws_the_figures_the_api_answers(history):
    async with history.client() as admin:
        api = (
            await gql(
                admin,
                """{ programMetrics(from: "2025-02-01", to: "2025-03-31") { metrics {
                     overall { revenue { amount } orders retentionRate pointsLiability { amount } }
                     byMonth { key metrics { pointsEarned pointsRedeemed } }
                     byTier { key metrics { members revenue { amount } } } } } }""",
            )
        )["programMetrics"]["metrics"]

    dom = await _chromium("--dump-dom", _address(history))

    assert 'data-state="ready"' in dom, dom[:2000]
    figures = dict(re.findall(r'data-metric="(\w+)">([^<]*)<', dom))
    assert figures["revenue"] == api["overall"]["revenue"]["amount"] == "920.00"
    assert figures["orders"] == str(api["overall"]["orders"])
    assert figures["pointsLiability"] == api["overall"]["pointsLiability"]["amount"]
    series = {
        name: json.loads(html.unescape(value))
        for name, value in re.findall(r'<canvas id="(\w+)"[^>]*data-series="([^"]*)"', dom)
    }
    assert series["points"] == {
        "labels": [g["key"] for g in api["byMonth"]],
        "data": [[g["metrics"]["pointsEarned"] for g in api["byMonth"]],
                 [g["metrics"]["pointsRedeemed"] for g in api["byMonth"]]],
    }  # fmt: skip
    assert series["tiers"]["data"] == [[g["metrics"]["members"] for g in api["byTier"]]]
    assert series["spend"]["data"] == [[float(g["metrics"]["revenue"]["amount"]) for g in api["byTier"]]]
    assert set(series) == {"points", "tiers", "nps", "retention", "spend"}

    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    await _chromium(f"--screenshot={SCREENSHOT}", _address(history))
    assert SCREENSHOT.stat().st_size > 10_000


async def test_the_dashboard_without_a_key_shows_only_the_sign_in(history):
    dom = await _chromium("--dump-dom", f"{history.url}/dashboard")

    assert 'data-state="signed-out"' in dom
    assert "data-metric" not in dom
