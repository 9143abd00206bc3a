"""Marketers' rule files -> a validated, compiled Program that turns facts into effects.

See docs/rules.md for the rule-file reference.
"""

from pathlib import Path

from rules.check import check_folder
from rules.errors import RuleError, RuleFileErrors
from rules.loader import load_program, load_program_from_sources
from rules.program import Program
from rules.registry import RulesRegistry
from rules.scenarios import run_scenarios

DEMO_RULES_DIR = Path(__file__).parent / "demo"

__all__ = [
    "DEMO_RULES_DIR",
    "Program",
    "RuleError",
    "RuleFileErrors",
    "RulesRegistry",
    "check_folder",
    "load_program",
    "load_program_from_sources",
    "run_scenarios",
]
