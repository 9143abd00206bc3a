"""Where a backtest's pages are evaluated: in this process, or in a pool of processes.

durable-rules' engine is one lock per process (rules/engine.py) and evaluation is CPU in
Python, so threads cannot share the work; processes can. Each worker of the pool compiles
the two versions once from their sources (programs hold C handles and do not pickle), then
evaluates the pages it is sent; only the facts go out and the tallies come back. Workers are
spawned, not forked: a fork of a process with threads (the server's, asyncpg's) may hang.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from app.program_memory import keep_in_force
from domain.history import RecordedEvent, RecordedOrder
from rules import Program, load_program_from_sources
from rules.backtest import Tally, replay

_programs: tuple[Program, Program] | None = None
"""In a worker process: the version in force and the candidate."""


def _load(current: dict[str, str], candidate: dict[str, str]) -> None:
    global _programs
    _programs = (load_program_from_sources(current), load_program_from_sources(candidate))
    keep_in_force(_programs[1])  # both versions live as long as the worker


def _replay_both(orders: Sequence[RecordedOrder], events: Sequence[RecordedEvent]) -> tuple[Tally, Tally]:
    assert _programs is not None, "the worker's initializer loads the programs"
    current, candidate = _programs
    return replay(current, orders, events), replay(candidate, orders, events)


class InProcess:
    """Pages evaluated one at a time in a thread of this process: the event loop stays free
    to read the next page (and, in the server, to answer other requests)."""

    workers = 1

    def __init__(self, current: Program, candidate: Program) -> None:
        self.current, self.candidate = current, candidate

    async def replay(self, orders: Sequence[RecordedOrder], events: Sequence[RecordedEvent]) -> tuple[Tally, Tally]:
        return await asyncio.to_thread(
            lambda: (replay(self.current, orders, events), replay(self.candidate, orders, events))
        )

    async def __aenter__(self) -> InProcess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class Pool:
    """Pages evaluated by `workers` processes at once."""

    def __init__(self, current: Program, candidate: Program, workers: int) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(current.sources, candidate.sources),
        )

    async def replay(self, orders: Sequence[RecordedOrder], events: Sequence[RecordedEvent]) -> tuple[Tally, Tally]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _replay_both, list(orders), list(events))

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        # Shutting down waits for the workers to exit: off the event loop.
        await asyncio.to_thread(self._executor.shutdown, True, cancel_futures=True)


Evaluator = InProcess | Pool
