"""Statements are written with named parameters; `$n` only where placeholders are counted
out at run time (an IN list, a multi-row VALUES)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from persistence.statements import Statement, named

PERSISTENCE = Path(__file__).resolve().parents[2] / "persistence"
NUMBERED = re.compile(r"\$\d")


def _fixed_positional_statements(source: str) -> list[int]:
    """Lines of `fetch`/`execute` calls whose text is a fixed literal with `$n` in it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        text = node.args[0]
        if name in ("fetch", "execute") and isinstance(text, ast.Constant) and isinstance(text.value, str):
            if NUMBERED.search(text.value):
                found.append(node.lineno)
    return found


def test_no_fixed_statement_counts_positions():
    offenders = {
        path.name: lines
        for path in sorted(PERSISTENCE.glob("*.py"))
        if (lines := _fixed_positional_statements(path.read_text()))
    }
    assert offenders == {}


def test_the_check_finds_a_fixed_positional_statement():
    source = 'async def f(x):\n    await sql.fetch("SELECT 1 WHERE a = $1", x)\n'
    assert _fixed_positional_statements(source) == [2]
    assert _fixed_positional_statements(source.replace("$1", ":a")) == []


def test_a_text_written_where_it_runs_is_compiled_once():
    text = "SELECT 1 WHERE a = :a AND b = :b AND a < :b"
    assert named(text) is named(text)
    assert named(text).text == "SELECT 1 WHERE a = $1 AND b = $2 AND a < $2"
    assert named(text).values({"b": 2, "a": 1}) == [1, 2]
    with pytest.raises(KeyError, match="missing"):
        named(text).values({"a": 1})
    assert isinstance(named(text), Statement)
