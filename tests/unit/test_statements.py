"""Named parameters compile to `$n` once; builders take their columns from the tables."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from persistence import models
from persistence.statements import JsonRows, RowsInsert, Statement, insert, insert_select, whole_row
from persistence.tables import LEDGER_ENTRIES, ORDER_LINES, ORDERS, TABLES, describe


def test_a_name_used_twice_is_one_parameter_numbered_in_order_of_first_use():
    statement = Statement("UPDATE t SET a = :a + :b WHERE id = :id AND b <> :b")
    assert statement.text == "UPDATE t SET a = $1 + $2 WHERE id = $3 AND b <> $2"
    assert statement.names == ("a", "b", "id")
    assert statement.values({"id": 7, "b": 2, "a": 1}) == [1, 2, 7]


def test_casts_quoted_text_and_times_are_left_alone():
    statement = Statement("SELECT :payload::jsonb, x::int[], 'a :b', \"c:d\", '10:30', arr[1:2] FROM t WHERE k = :k")
    assert statement.text == "SELECT $1::jsonb, x::int[], 'a :b', \"c:d\", '10:30', arr[1:2] FROM t WHERE k = $2"
    assert statement.names == ("payload", "k")


def test_a_missing_or_unused_value_is_refused_by_name():
    statement = Statement("SELECT :a, :b")
    with pytest.raises(KeyError, match=r"missing: \['b'\]"):
        statement.values({"a": 1})
    with pytest.raises(KeyError, match=r"not in the statement: \['c'\]"):
        statement.values({"a": 1, "b": 2, "c": 3})


def test_numbered_parameters_are_refused_in_a_named_statement():
    with pytest.raises(ValueError, match="name them"):
        Statement("SELECT * FROM t WHERE a = $1")
    assert Statement("SELECT '$1' FROM t").names == ()


def test_an_insert_names_every_written_column_of_its_table_once():
    statement = insert(ORDER_LINES, returning="id")
    assert statement.text == (
        "INSERT INTO order_lines (position, sku, category, quantity, unit_price, tags, order_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    assert statement.names == ORDER_LINES.written
    assert "id" not in ORDER_LINES.written


def test_a_misspelt_column_fails_when_the_statement_is_built():
    with pytest.raises(KeyError, match="order_lines has no column 'price'"):
        insert(ORDER_LINES, ("sku", "price"))


def test_a_rows_insert_numbers_each_row_and_keeps_one_text_per_row_count():
    rows_insert = RowsInsert(ORDER_LINES, ("order_id", "sku"), suffix="ON CONFLICT DO NOTHING")
    two = rows_insert.statement(2)
    assert two.text == "INSERT INTO order_lines (order_id, sku) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING"
    assert rows_insert.statement(2) is two
    params = rows_insert.params([{"order_id": 1, "sku": "A", "other": 0}, {"order_id": 1, "sku": "B"}])
    assert two.values(params) == [1, "A", 1, "B"]


def test_a_statement_of_many_rows_compiles_in_time_that_grows_with_its_rows_not_their_square():
    # Quadratic once (each name searched for in a list of the names before it): a job's
    # 200,000-entry insert held the event loop for over an hour, and SIGTERM with it.
    rows = 20_000
    compiled: list[Statement] = []
    compiling = threading.Thread(
        target=lambda: compiled.append(RowsInsert(LEDGER_ENTRIES).statement(rows)), daemon=True
    )
    compiling.start()
    compiling.join(timeout=30)  # about a second on a loaded machine; quadratic, many minutes

    assert compiled, "compiling a 20,000-row insert took over 30 s"
    columns = len(RowsInsert(LEDGER_ENTRIES).columns)
    assert len(compiled[0].names) == rows * columns
    assert compiled[0].text.endswith(f"${rows * columns})")


def test_json_rows_type_each_column_as_the_table_does_and_keep_values_exact():
    lines = JsonRows(ORDER_LINES, ("position", "sku", "unit_price", "tags"), "lines")
    assert lines.sql == (
        "jsonb_to_recordset(:lines::jsonb) AS x(position int, sku varchar, unit_price numeric, tags text)"
    )
    # A JSON column is read as text and cast; the others as they are.
    assert lines.column("tags") == "x.tags::jsonb"
    assert lines.column("sku") == "x.sku"
    rows = [
        {"position": 0, "sku": "A", "unit_price": Decimal("0.10"), "tags": "[]", "unused": 1},
        {"position": 1, "sku": 'B"', "unit_price": Decimal("1E+2"), "tags": '["x"]'},
    ]
    [text] = lines.params(rows).values()
    assert json.loads(text) == [
        {"position": 0, "sku": "A", "unit_price": "0.10", "tags": "[]"},
        {"position": 1, "sku": 'B"', "unit_price": "1E+2", "tags": '["x"]'},
    ]
    numbered = JsonRows(LEDGER_ENTRIES, ("expires_at",), "entries", numbered=True)
    assert numbered.sql.endswith("AS x(expires_at timestamptz, n int)")
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert json.loads(numbered.params([{"expires_at": moment}, {"expires_at": None}])["entries"]) == [
        {"expires_at": "2026-01-02T03:04:05.000006+00:00", "n": 1},
        {"expires_at": None, "n": 2},
    ]


def test_insert_select_takes_each_column_from_its_expression():
    expressions = whole_row(ORDER_LINES, lambda column: "o.id" if column == "order_id" else f"x.{column}")
    text = insert_select(ORDER_LINES, expressions, "o, x")
    assert text.startswith(
        "INSERT INTO order_lines (position, sku, category, quantity, unit_price, tags, order_id) SELECT"
    )
    assert text.endswith("x.unit_price, x.tags, o.id FROM o, x")
    with pytest.raises(KeyError, match="no column 'price'"):
        insert_select(ORDER_LINES, {"price": "1"}, "x")


def test_fixed_columns_take_their_sql_and_no_parameter():
    statement = insert(ORDER_LINES, ("order_id", "sku", "position"), fixed={"position": "0"})
    assert statement.text == "INSERT INTO order_lines (order_id, sku, position) VALUES ($1, $2, 0)"
    assert statement.names == ("order_id", "sku")


def test_descriptions_follow_the_models():
    assert ORDERS["subtotal"].pg_type == "numeric"
    assert ORDERS["placed_at"].pg_type == "timestamptz"
    assert ORDERS["coupon_codes"].pg_type == "jsonb"
    assert ORDERS["customer_id"].pg_type == "bigint" and not ORDERS["customer_id"].nullable
    assert LEDGER_ENTRIES["order_id"].nullable and LEDGER_ENTRIES["related_entry_id"].nullable
    assert LEDGER_ENTRIES["id"].generated
    assert set(TABLES) >= {"customers", "orders", "order_lines", "ledger_entries", "reward_events"}
    assert describe(models.Order) == ORDERS
