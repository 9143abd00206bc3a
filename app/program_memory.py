"""Keeping the rules version in force out of the garbage collector's full passes.

A compiled 5,000-rule program is about a million tracked objects (rule specs, conditions,
trace entries, index tables) that live as long as the version is in force. Every full
(oldest-generation) collection walks all of them: measured about 110 ms at 5,000 rules,
once per thousand or so evaluations in process, and more often in the server, whose
requests allocate more; that pause lands on whichever request triggered it (its p99).
`gc.freeze()` moves every object alive at that moment into the permanent generation,
which collections skip, so they walk only what requests allocate.

A frozen object that becomes garbage is still freed by reference counting; only cycles
among frozen objects would wait. So each time a new version goes live the old one is
unfrozen and collected once (one full pass per reload, at the reload, not at a request),
and the new one frozen. Frozen memory is never shared with forks here (workers are
spawned), so the freeze costs nothing but that pass.

The service's choice, made for the processes that serve requests and that evaluate
backtests (app.bootstrap, app.backtest_pool); tools and tests leave the GC alone.
"""

from __future__ import annotations

import gc
import logging
import time

from rules import Program

log = logging.getLogger(__name__)


def keep_in_force(program: Program) -> None:
    """Collect what earlier versions left, then freeze everything alive (this version)."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info(
        "rules version %s frozen out of garbage collection (%d objects, %.0f ms)",
        program.version,
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
