"""A change that can break a client already built against the published schema (main's
schema.graphql, where this branch last merged it) fails here unless it is declared in
api/declared_breaking_changes.txt."""

from __future__ import annotations

import os
import subprocess

import graphql
import pytest

from api.schema import export_sdl
from tests.conftest import REPO_ROOT

# The published schema: main's, or the ref CI names (e.g. a release tag).
BASELINE_REF = os.environ.get("LOYALTY_SCHEMA_BASELINE", "main")
DECLARED = REPO_ROOT / "api" / "declared_breaking_changes.txt"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout


def _published() -> str:
    """schema.graphql where this branch last met the baseline (their merge base): a branch
    behind main is judged on its own changes, not on what main added since."""
    try:
        return _git("show", f"{_git('merge-base', 'HEAD', BASELINE_REF).strip()}:schema.graphql")
    except (OSError, subprocess.CalledProcessError):
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no {BASELINE_REF}:schema.graphql to compare with (set LOYALTY_SCHEMA_BASELINE)")


def declared() -> set[str]:
    lines = (line.strip() for line in DECLARED.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def breaking_changes(old_sdl: str, new_sdl: str) -> set[str]:
    changes = graphql.find_breaking_changes(graphql.build_schema(old_sdl), graphql.build_schema(new_sdl))
    return {f"{change.type.name}: {change.description}" for change in changes}


def test_the_served_schema_breaks_nothing_published_unless_declared():
    undeclared = breaking_changes(_published(), export_sdl()) - declared()
    assert not undeclared, (
        "breaking changes against the published schema; keep the old field beside the new one"
        f" (deprecated), or declare them, with why, in {DECLARED.name}:\n" + "\n".join(sorted(undeclared))
    )


def test_a_removed_field_is_a_breaking_change_and_a_new_one_is_not():
    old = "type Query { a: Int, b: String }"
    assert breaking_changes(old, "type Query { a: Int, b: String, c: Int }") == set()
    assert breaking_changes(old, "type Query { a: Int }") == {"FIELD_REMOVED: Field Query.b was removed."}
