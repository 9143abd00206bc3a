"""The layers' rules (issue 9), read from the source with `ast`: domain/ is plain Python;
rules/ and persistence/ build on it; app/ composes them; api/ speaks GraphQL over app/ and
reaches the database only through it. Only persistence/ talks to the ORM or a database
driver, and app/ and below name input fields as the domain does (api/errors.py gives them
the names of the client's input)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache

from tests.conftest import REPO_ROOT

PACKAGES = ("api", "app", "domain", "persistence", "rules")
ALLOWED = {
    "domain": {"domain"},
    "rules": {"domain", "rules"},
    "persistence": {"domain", "persistence"},
    "app": {"domain", "rules", "persistence", "app"},
    "api": {"domain", "rules", "app", "api"},
}
DATABASE_LIBRARIES = {"tortoise", "asyncpg", "aiosqlite", "pypika", "pypika_tortoise", "sqlite3"}
BELOW_THE_API = ("app", "domain", "persistence", "rules")

# Imports that still break the rules, in files being rewritten by other work now (the
# database connection and start-up, and the customer rows the API's loader returns). This
# list may only shrink: remove an entry when its file is fixed; never add one.
NOT_YET: frozenset[str] = frozenset()

# A GraphQL input name is camelCase; the domain's are snake_case. Payload keys of reward
# events (the partner contract) and request digests are dict keys, not error paths.
CAMEL_CASE = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")


def sources(*packages: str) -> Iterator[tuple[str, str, ast.Module]]:
    """(package, path from the repository root, syntax tree) of every module."""
    for package in packages:
        yield from _parsed(package)


@cache
def _parsed(package: str) -> list[tuple[str, str, ast.Module]]:
    return [
        (package, path.relative_to(REPO_ROOT).as_posix(), ast.parse(path.read_text(), str(path)))
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
    ]


def imported(tree: ast.Module) -> set[str]:
    """Every module an import statement names, anywhere in the file (in functions and under
    TYPE_CHECKING too); relative imports stay inside their package."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imports_across_layers() -> set[str]:
    return {
        f"{path} imports {name}"
        for package, path, tree in sources(*PACKAGES)
        for name in imported(tree)
        if name.split(".")[0] in PACKAGES and name.split(".")[0] not in ALLOWED[package]
    }


def database_imports_outside_persistence() -> set[str]:
    return {
        f"{path} imports {name}"
        for package, path, tree in sources(*PACKAGES)
        if package != "persistence"
        for name in imported(tree)
        if name.split(".")[0] in DATABASE_LIBRARIES
    }


def test_each_layer_imports_only_the_layers_it_may():
    assert imports_across_layers() - NOT_YET == set()


def test_only_persistence_imports_the_orm_or_a_database_driver():
    assert database_imports_outside_persistence() - NOT_YET == set()


def test_not_yet_lists_only_what_still_breaks_the_rules():
    """An entry whose import is gone must go too, so that the list cannot hide a new one."""
    assert NOT_YET - imports_across_layers() - database_imports_outside_persistence() == set()


def field_paths(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, text) of every string in a list literal passed to a call (an error's field
    path: `DomainError(..., ["x"])`, `validation.text(value, [*where, "x"], ...)`) or given
    to a `field` (`field = ["x"]`, `error.field = ["x"]`)."""
    lists: list[ast.List] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            lists += [arg for arg in [*node.args, *(k.value for k in node.keywords)] if isinstance(arg, ast.List)]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            names = [t.id if isinstance(t, ast.Name) else getattr(t, "attr", None) for t in node.targets]
            if "field" in names:
                lists.append(node.value)
    for found in lists:
        for element in found.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str):
                yield element.lineno, element.value


def test_app_and_below_name_fields_as_the_domain_does():
    wrong = [
        f"{path}:{line}: {text}"
        for _, path, tree in sources(*BELOW_THE_API)
        for line, text in field_paths(tree)
        if CAMEL_CASE.match(text)
    ]
    assert wrong == []


def test_the_field_path_check_sees_the_shapes_error_paths_take():
    """The check above must fail on what it is there to catch."""
    tree = ast.parse(
        'raise DomainError(code, "m", ["customerExternalId"])\n'
        'check(parse_amount, price, currency, [*where, "unitPrice"])\n'
        'validate_url(url, field=["webhookUrl"])\n'
        'error.field = ["orderExternalId"]\n'
        'payload = {"balanceAfter": 1, "rules": [{"ruleId": "r"}]}\n'
    )
    assert sorted(text for _, text in field_paths(tree) if CAMEL_CASE.match(text)) == [
        "customerExternalId",
        "orderExternalId",
        "unitPrice",
        "webhookUrl",
    ]


def test_the_import_check_sees_imports_inside_functions():
    tree = ast.parse("def f():\n    from persistence.database import migrate\n    import tortoise\n")
    assert imported(tree) == {"persistence.database", "tortoise"}
