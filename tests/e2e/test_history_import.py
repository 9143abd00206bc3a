"""`loyalty import`: a store's history backfilled from CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import POSTGRES_URL, REPO_ROOT, TEST_DATABASE, TEST_RULES_DIR
from tests.e2e.analytics_data import admin_statement

OURS = """order_id,customer_id,email,placed_at,currency,sku,category,quantity,unit_price,shipping
o-1,c-1,one@example.com,2025-02-10T12:00:00Z,EUR,SKU-A,cribs,1,100.00,5.00
o-1,c-1,one@example.com,2025-02-10T12:00:00Z,EUR,SKU-B,,2,10.00,
o-2,c-2,two@example.com,2025-02-11T12:00:00Z,EUR,SKU-A,,x,10.00,
o-3,c-2,two@example.com,not a date,EUR,SKU-A,,1,10.00,
o-4,c-2,two@example.com,2025-02-12 10:00:00 -0500,USD,SKU-A,,1,10.00,
o-5,c-3,three@example.com,2025-02-13,GBP,SKU-A,,1,10.00,
"""

# Shopify's order export: one row per line item, the order's own fields on its first row only.
SHOPIFY = """Name,Email,Financial Status,Paid at,Currency,Subtotal,Shipping,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku
#1001,ann@example.com,paid,2025-03-01 10:00:00 +0100,EUR,45.00,4.90,49.90,2025-03-01 10:00:00 +0100,1,Crib sheet,25.00,SHEET
#1001,ann@example.com,,,,,,,,2,Bib,10.00,BIB
#1002,bob@example.com,paid,2025-03-02 09:30:00 +0100,EUR,12.00,0.00,12.00,2025-03-02 09:30:00 +0100,1,Rattle,12.00,RATTLE
"""  # noqa: E501

WOO_CUSTOMERS = """customer_id,first_name,last_name,email,date_registered
17,Ann,Lee,ann@example.com,2024-05-01 08:00:00
18,Bob,,bob@example.com,2024-06-01 08:00:00
19,Bad,,not-an-email,2024-06-01 08:00:00
17,Ann,Lee,ann@example.com,2024-05-01 08:00:00
"""


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database of this test's own, migrated by `loyalty migrate`."""
    if TEST_DATABASE == "sqlite":
        url = f"sqlite://{tmp_path / 'import.db'}"
        fresh = None
    else:
        assert POSTGRES_URL
        base, _, name = POSTGRES_URL.rpartition("/")
        fresh = f"{name.split('?')[0]}_import"
        asyncio.run(admin_statement(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{fresh}"'))
        asyncio.run(admin_statement(POSTGRES_URL, f'CREATE DATABASE "{fresh}"'))
        url = f"{base}/{fresh}"
    monkeypatch.setenv("LOYALTY_DATABASE_URL", url)
    monkeypatch.setenv("LOYALTY_RULES_DIR", str(TEST_RULES_DIR))
    assert loyalty("migrate").returncode == 0
    try:
        yield url
    finally:
        if fresh:
            asyncio.run(admin_statement(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))


def loyalty(*args: str) -> subprocess.CompletedProcess[str]:
    """The `loyalty` command in a process of its own, as an operator runs it (this process's
    Tortoise connections belong to the test server's event loop)."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite://"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite://"))) as conn:
            return list(conn.execute(statement))

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        try:
            return [tuple(r) for r in await conn.fetch(statement)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bad_rows_are_reported_by_line_and_the_good_ones_imported(database, tmp_path):
    path = _file(tmp_path, "orders.csv", OURS)

    done = loyalty("import", "orders", str(path))

    assert done.returncode == 1
    out, err = done.stdout, done.stderr
    assert "orders: 2 imported, 0 already there, 3 bad rows" in out
    assert err.splitlines() == [
        f"{path}:4: quantity: 'x' is not a whole number.",
        f"{path}:5: placed_at: 'not a date' is not a date and time.",
        f"{path}:7: currency: This program does not accept GBP; it accepts EUR, JPY, USD.",
    ]
    orders = rows(database, "SELECT external_id, program_subtotal, points_earned FROM orders ORDER BY external_id")
    assert [(o, float(s), p) for o, s, p in orders] == [("o-1", 120.0, 0), ("o-4", 9.2, 0)]
    assert rows(database, "SELECT COUNT(*) FROM order_lines") == [(3,)]
    customers = rows(database, "SELECT external_id, tier, order_count FROM customers ORDER BY external_id")
    assert customers == [("c-1", "Bronze", 1), ("c-2", "Bronze", 1)]
    # Enrolled by their orders, each with a referral code of their own, as enrollCustomer gives.
    assert rows(database, "SELECT COUNT(DISTINCT referral_code) FROM customers") == [(2,)]


def test_an_import_run_again_skips_what_is_there(database, tmp_path):
    path = _file(tmp_path, "orders.csv", OURS)
    loyalty("import", "orders", str(path))

    again = loyalty("import", "orders", str(path))

    assert again.returncode == 1
    assert "orders: 0 imported, 2 already there, 3 bad rows" in again.stdout
    assert rows(database, "SELECT COUNT(*) FROM orders") == [(2,)]
    assert rows(database, "SELECT COUNT(*) FROM order_lines") == [(3,)]
    assert rows(database, "SELECT order_count FROM customers WHERE external_id = 'c-1'") == [(1,)]


def test_a_shopify_export_imports_its_orders_by_email(database, tmp_path):
    path = _file(tmp_path, "shopify.csv", SHOPIFY)

    done = loyalty("import", "orders", str(path), "--format", "shopify")

    assert done.returncode == 0, done.stderr
    assert "orders: 2 imported" in done.stdout
    orders = rows(
        database,
        "SELECT o.external_id, c.external_id, o.subtotal, o.shipping_amount FROM orders o"
        " JOIN customers c ON c.id = o.customer_id ORDER BY 1",
    )
    assert [(o, c, float(s), float(sh)) for o, c, s, sh in orders] == [
        ("1001", "ann@example.com", 45.0, 4.9),
        ("1002", "bob@example.com", 12.0, 0.0),
    ]


def test_past_orders_can_earn_points_as_of_their_date(database, tmp_path):
    path = _file(tmp_path, "shopify.csv", SHOPIFY)

    first = loyalty("import", "orders", str(path), "--format", "shopify", "--award")
    again = loyalty("import", "orders", str(path), "--format", "shopify", "--award")

    assert (first.returncode, again.returncode) == (0, 0), first.stderr
    assert "orders: 0 imported, 2 already there, 0 bad rows" in again.stdout
    entries = rows(
        database,
        "SELECT c.external_id, e.points, e.rule_id, e.created_at FROM ledger_entries e"
        " JOIN customers c ON c.id = e.customer_id ORDER BY e.id",
    )
    assert [(c, p, r) for c, p, r, _ in entries] == [
        ("ann@example.com", 45, "base-earn"),
        ("bob@example.com", 12, "base-earn"),
    ]
    assert str(entries[0][3]).startswith("2025-03-01 09:00:00")  # 10:00 +01:00, in UTC


def test_a_woocommerce_customer_export_enrolls_each_customer_once(database, tmp_path):
    path = _file(tmp_path, "customers.csv", WOO_CUSTOMERS)

    done = loyalty("import", "customers", str(path), "--format", "woocommerce")

    assert done.returncode == 1
    out, err = done.stdout, done.stderr
    assert "customers: 2 imported, 0 already there, 2 bad rows" in out
    assert f"{path}:4: email:" in err and f"{path}:5: customer '17' is on an earlier row." in err
    customers = rows(database, "SELECT external_id, name, email FROM customers ORDER BY external_id")
    assert customers == [("17", "Ann Lee", "ann@example.com"), ("18", "Bob", "bob@example.com")]
    assert rows(database, "SELECT COUNT(DISTINCT referral_code) FROM customers") == [(2,)]
    [(enrolled,)] = rows(database, "SELECT enrolled_at FROM customers WHERE external_id = '17'")
    assert str(enrolled).startswith("2024-05-01 08:00:00")
