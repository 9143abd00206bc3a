"""The bulk import (PostgreSQL checks and writes plain orders in SQL, app.bulk_import)
against the path it shortcuts (every order read and validated in Python): the same file
must leave the same rows, digests and reports. On SQLite both runs take the Python path."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, REPO_ROOT, TEST_DATABASE, TEST_RULES_DIR
from tests.e2e.analytics_data import admin_statement
from tests.e2e.test_history_import import rows

# One of each shape the bulk path must get right, and of each it must hand to Python.
# Line 2-3: two lines, '#' id, order fields on the first row only; 4: price from the line
# total, in USD, shipping 0.00 (stored 0, digested as "0"); 5: a guest (id 0), date only;
# 6: JPY, no decimals; 7: JPY 75 converts to 0.465 EUR, a tie that Python rounds half even;
# 8: a quote in the sku; 9: an email not in ASCII; 10: 30 February; 11: too many decimals;
# 12: o-1 again, not on consecutive rows; 13-14: one record over two lines; 15: bad
# quantity, its line number after that record; 16: a space around fields, an offset time.
MIXED = '''order_id,customer_id,email,placed_at,currency,sku,category,quantity,unit_price,line_total,shipping
#o-1,c-1,one@example.com,2025-02-10T12:00:00Z,EUR,SKU-A,cribs,1,100.00,,5.00
#o-1,,,,,SKU-B,,2,10.5,,
o-2,c-2,two@example.com,2025-02-11 08:30:00 +0100,USD,SKU-C,,3,,31.50,0.00
o-3,0,three@example.com,2025-02-12,EUR,SKU-D,toys,1,19.99,,
o-4,c-2,two@example.com,2025-02-13T23:59:59-05:00,JPY,SKU-E,,2,1500,,
o-5,c-5,five@example.com,2025-02-14T10:00:00Z,JPY,SKU-F,,1,75,,
o-6,c-6,six@example.com,2025-02-14T10:00:00Z,EUR,"SKU ""G""",,1,1.00,,
o-7,c-7,sé@example.com,2025-02-14T10:00:00Z,EUR,SKU-H,,1,1.00,,
o-8,c-8,eight@example.com,2025-02-30T10:00:00Z,EUR,SKU-I,,1,1.00,,
o-9,c-9,nine@example.com,2025-02-14T10:00:00Z,EUR,SKU-J,,1,1.005,,
o-1,c-1,one@example.com,2025-02-15T10:00:00Z,EUR,SKU-A,,1,1.00,,
o-10,c-10,ten@example.com,2025-02-14T10:00:00Z,EUR,SKU-K,"two
lines",1,2.00,,
o-11,c-11,eleven@example.com,2025-02-14T10:00:00Z,EUR,SKU-L,,x,2.00,,
 o-12 , c-1 ,one@example.com, 2025-03-01 09:15:00+02:00 ,EUR, SKU-M ,,1,3.00,,1.00
'''

LATER = """order_id,customer_id,email,placed_at,currency,sku,category,quantity,unit_price,line_total,shipping
o-20,c-2,two@example.com,2025-03-10T12:00:00Z,EUR,SKU-A,,2,40.00,,
o-21,c-5,five@example.com,2025-01-01T08:00:00Z,EUR,SKU-B,,1,9.99,,1.00
o-2,c-2,two@example.com,2025-02-11 08:30:00 +0100,USD,SKU-C,,3,,31.50,0.00
o-22,c-30,thirty@example.com,2025-03-11T12:00:00Z,EUR,SKU-C,,1,5.00,,
"""

_RUN = """
import asyncio, sys
from pathlib import Path
from app import imports
from app.bootstrap import running_services
from app.import_formats import columns
from app.settings import Settings

async def main():
    if sys.argv[2] == "bulk-batches":  # a batch per 2 records: both writers, each several batches
        from app import bulk_import
        bulk_import.ROWS_PER_BATCH = 2
    async with running_services(Settings.from_env()) as services:
        report = await imports.import_orders(
            services.uow, services.program, Path(sys.argv[1]), columns("orders", "loyalty", None),
            bulk=sys.argv[2].startswith("bulk"),
        )
    print(report.imported, report.skipped)
    for line, message in report.bad:
        print(line, message)

asyncio.run(main())
"""


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty, migrated databases of this test's own."""
    if TEST_DATABASE == "sqlite":
        urls = [f"sqlite://{tmp_path / 'bulk.db'}", f"sqlite://{tmp_path / 'rows.db'}"]
        names: list[str] = []
    else:
        assert POSTGRES_URL
        base, _, name = POSTGRES_URL.rpartition("/")
        names = [f"{name.split('?')[0]}_{kind}" for kind in ("bulk", "rows")]
        for fresh in names:
            asyncio.run(admin_statement(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{fresh}"'))
            asyncio.run(admin_statement(POSTGRES_URL, f'CREATE DATABASE "{fresh}"'))
        urls = [f"{base}/{fresh}" for fresh in names]
    for url in urls:
        assert _run([sys.executable, "-m", "api.cli", "migrate"], url).returncode == 0
    try:
        yield urls[0], urls[1]
    finally:
        for fresh in names:
            asyncio.run(admin_statement(POSTGRES_URL or "", f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))


def _run(command: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {"LOYALTY_DATABASE_URL": url, "LOYALTY_RULES_DIR": str(TEST_RULES_DIR), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)


def _import(url: str, path: Path, how: str) -> list[str]:
    done = _run([sys.executable, "-c", _RUN, str(path), how], url)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


_WRITTEN = (
    "SELECT o.external_id, c.external_id, o.currency, o.placed_at, o.subtotal, o.shipping_amount,"
    " o.program_currency, o.program_subtotal, o.exchange_rate, o.request_hash, o.points_earned, o.rules_version"
    " FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY 1",
    "SELECT o.external_id, l.position, l.sku, l.category, l.quantity, l.unit_price FROM order_lines l"
    " JOIN orders o ON o.id = l.order_id ORDER BY 1, 2",
    "SELECT external_id, email, tier, order_count, lifetime_spend, last_order_at, enrolled_at FROM customers"
    " ORDER BY 1",
)


@pytest.mark.parametrize("how", ["bulk", "bulk-batches"])
def test_the_bulk_import_writes_and_reports_what_validate_order_does(databases, tmp_path, how):
    bulk_url, rows_url = databases
    path = tmp_path / "orders.csv"
    path.write_text(MIXED)

    bulk = _import(bulk_url, path, how)
    by_rows = _import(rows_url, path, "rows")

    assert bulk == by_rows
    assert bulk[0] == "9 0"
    assert [line.split(" ", 1)[0] for line in bulk[1:]] == ["10", "11", "12", "15"]
    for statement in _WRITTEN:
        assert rows(bulk_url, statement) == rows(rows_url, statement)
    # The tie: 75 JPY is 0.465 EUR, rounded half even as recordOrder rounds it.
    assert [float(s) for (s,) in rows(bulk_url, "SELECT program_subtotal FROM orders WHERE external_id = 'o-5'")] == [
        0.46
    ]
    again = _import(bulk_url, path, how)
    assert again[0] == "0 9" and again[1:] == bulk[1:]

    # Later orders of customers enrolled by the first file (their figures move), of a new
    # customer, and one already there.
    later = tmp_path / "later.csv"
    later.write_text(LATER)
    assert _import(bulk_url, later, how) == _import(rows_url, later, "rows") == ["3 1"]
    for statement in _WRITTEN:
        assert rows(bulk_url, statement) == rows(rows_url, statement)


def test_a_pool_of_one_connection_writes_every_batch_on_it(databases, tmp_path):
    """A second writer would wait for ever for a connection the first one holds."""
    if TEST_DATABASE == "sqlite":
        pytest.skip("the bulk path is PostgreSQL's")
    bulk_url, _ = databases
    path = tmp_path / "orders.csv"
    path.write_text(MIXED)
    written = _import(f"{bulk_url}?minsize=1&maxsize=1", path, "bulk-batches")
    assert written[0] == "9 0"
    assert rows(bulk_url, "SELECT COUNT(*) FROM order_lines") == [(10,)]
