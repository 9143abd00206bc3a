"""`loyalty rules check`: every problem in a rules folder as `file:line:col: message`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from rules import schema_check
from rules.errors import RuleError, RuleFileErrors
from rules.loader import SCENARIO_DIR, read_sources, validate_sources, version_of
from rules.yamlsource import parse


def scenario_errors(folder: Path) -> list[RuleError]:
    """Scenario files checked against their schema, so `check` catches them before `test`."""
    errors: list[RuleError] = []
    for path in sorted((folder / SCENARIO_DIR).rglob("*")):
        if path.suffix not in (".yaml", ".yml"):
            continue
        doc, syntax = parse(path.relative_to(folder).as_posix(), path.read_text(encoding="utf-8"))
        errors.extend(syntax)
        if doc is not None and not syntax:
            errors.extend(schema_check.check(doc, "scenarios")[0])
    return errors


def check_folder(folder: Path, out: TextIO = sys.stdout) -> int:
    """Print each error (file paths relative to `folder`); 0 when the folder is valid."""
    try:
        files = read_sources(Path(folder))
    except RuleFileErrors as exc:
        for error in exc.errors:
            print(error, file=out)
        return 1
    spec, errors = validate_sources(files)
    errors = errors + scenario_errors(Path(folder))
    for error in errors:
        print(error, file=out)
    if errors:
        print(f"{len(errors)} error(s)", file=out)
        return 1
    print(f"ok: {len(files)} file(s), {len(spec.rules)} rules, version {version_of(files)}", file=out)
    return 0
