"""Errors in rule files, each pointing at the place a marketer has to fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleError:
    file: str
    line: int
    """1-based, like editors show it."""
    col: int
    """1-based."""
    message: str
    rule_id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class RuleFileErrors(Exception):
    """Raised when a rules folder does not validate; `.errors` lists every problem found."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.col, e.message))
        lines = "\n".join(str(e) for e in self.errors[:20])
        more = f"\n... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"{len(self.errors)} error(s) in rule files:\n{lines}{more}")
