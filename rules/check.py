"""`loyalty rules check`: every problem in a rules folder as `file:line:col: message`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from rules import schema_check
from rules.errors import RuleError, RuleFileErrors
from rules.loader import SCENARIO_DIR, decode, load_program_from_sources, read_folder, validate_sources
from rules.yamlsource import parse


def scenario_errors(folder: Path) -> list[RuleError]:
    """Scenario files checked against their schema, so `check` catches them before `test`."""
    errors: list[RuleError] = []
    for path in sorted((folder / SCENARIO_DIR).rglob("*")):
        if path.suffix not in (".yaml", ".yml"):
            continue
        relative = path.relative_to(folder).as_posix()
        text, unreadable = decode(relative, path.read_bytes())
        if text is None:
            errors.append(unreadable)  # type: ignore[arg-type]
            continue
        doc, syntax = parse(relative, text)
        errors.extend(syntax)
        if doc is not None and not syntax:
            errors.extend(schema_check.check(doc, "scenarios")[0])
    return errors


def check_folder(folder: Path, out: TextIO = sys.stdout) -> int:
    """Print each error (file paths relative to `folder`); 0 when the folder is valid.

    A folder that validates is also compiled, exactly as the service compiles it, so what
    `check` accepts always loads."""
    folder = Path(folder)
    files, errors = read_folder(folder)
    spec, invalid = validate_sources(files, complete=not errors) if files or not errors else (None, [])
    errors = errors + invalid
    if not errors:
        try:
            program = load_program_from_sources(files)
        except RuleFileErrors as exc:
            errors = exc.errors
    if folder.is_dir():
        errors = errors + scenario_errors(folder)
    for error in sorted(errors, key=lambda e: (e.file, e.line, e.col, e.message)):
        print(error, file=out)
    if errors:
        print(f"{len(errors)} error(s)", file=out)
        return 1
    assert spec is not None
    print(f"ok: {len(files)} file(s), {len(spec.rules)} rules, version {program.version}", file=out)
    return 0
