"""The layers' import rules, read from the source (README: Layout)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGES = ("api", "app", "domain", "persistence", "rules")
ALLOWED = {
    "domain": {"domain"},
    "rules": {"domain", "rules"},
    "persistence": {"domain", "persistence"},
    "app": {"domain", "rules", "persistence", "app"},
    "api": {"domain", "rules", "app", "api"},
}
DATABASE_LIBRARIES = {"tortoise", "asyncpg", "aiosqlite", "pypika_tortoise", "sqlite3"}
# A GraphQL name is camelCase; the domain's are snake_case. Outbox payloads are the partner
# contract (Standard Webhooks' JSON), and request digests must stay stable: both keep theirs.
GRAPHQL_FIELD = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")


def modules(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[0] for name in names}


def test_each_layer_imports_only_the_layers_below_it():
    wrong = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for package in PACKAGES
        for path in modules(package)
        for name in imported(path)
        if name in PACKAGES and name not in ALLOWED[package]
    ]
    assert wrong == []


def test_only_persistence_imports_the_database_libraries():
    wrong = [
        f"{path.relative_to(REPO_ROOT)} imports {name}"
        for package in PACKAGES
        if package != "persistence"
        for path in modules(package)
        for name in imported(path) & DATABASE_LIBRARIES
    ]
    assert wrong == []


def field_paths(path: Path) -> list[str]:
    """Every string in a list literal passed as an error's field path (`[..., "x"]` as the
    last argument of DomainError or of a validation call)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.List):
                    found += [e.value for e in arg.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return found


def test_app_and_below_name_fields_as_the_domain_does():
    wrong = [
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for package in ("app", "domain", "persistence", "rules")
        for path in modules(package)
        for name in field_paths(path)
        if GRAPHQL_FIELD.match(name)
    ]
    assert wrong == []
