"""The version in force is frozen out of full collections, and a replaced one is freed."""

from __future__ import annotations

import gc
import weakref

from app.program_memory import keep_in_force
from rules import load_program_from_sources

RULES = {"rules.yaml": "rules:\n  - {id: base, then: {points: {per_unit: 1}}}\n"}


def test_a_replaced_version_is_collected_and_the_new_one_frozen():
    try:
        first = load_program_from_sources(RULES)
        first.cycle = first  # type: ignore[attr-defined]  # only a collection can free it
        gone = weakref.ref(first)
        keep_in_force(first)
        assert gc.get_freeze_count() > 0
        del first
        gc.collect()
        assert gone() is not None, "frozen: full collections leave it alone"
        keep_in_force(load_program_from_sources({"rules.yaml": RULES["rules.yaml"] + "# v2\n"}))
        assert gone() is None
    finally:
        gc.unfreeze()
