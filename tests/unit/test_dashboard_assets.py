"""The dashboard's vendored Chart.js is the pinned file, and the page loads nothing else."""

from __future__ import annotations

import hashlib
import re

from api.dashboard import CHART_JS, STATIC


def test_the_vendored_chart_js_is_the_pinned_release():
    name, version, sha256 = CHART_JS
    content = (STATIC / name).read_bytes()
    assert hashlib.sha256(content).hexdigest() == sha256
    assert f"Chart.js v{version}" in content[:200].decode()
    assert (STATIC / "chart.js-LICENSE.md").read_text().startswith("The MIT License")


def test_the_page_loads_only_files_served_beside_it():
    page = (STATIC / "index.html").read_text()
    addresses = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert addresses and all(a.startswith("/dashboard/static/") for a in addresses)
    assert all((STATIC / a.rsplit("/", 1)[1]).is_file() for a in addresses)
    assert "<script>" not in page  # the CSP allows no inline script
