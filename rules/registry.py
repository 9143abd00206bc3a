"""The active rules version, swapped only for a folder that fully validates."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from rules.errors import RuleError, RuleFileErrors
from rules.loader import load_program_from_sources, read_sources
from rules.program import Program

log = logging.getLogger(__name__)

OnActivate = Callable[[Program], object | Awaitable[object]]


class RulesRegistry:
    """Holds the active Program. `reload()` activates a new version only when the whole folder
    validates; on errors the current version stays active and the errors are returned.

    `on_activate(program)` runs after each activation (and at the first load) so the service
    layer can store `program.version` and `program.sources`; it may be sync or async (an
    async hook is scheduled on the running loop, or run to completion when there is none).
    """

    def __init__(self, folder: Path, on_activate: OnActivate | None = None, debounce_ms: int = 300) -> None:
        self.folder = Path(folder)
        self.on_activate = on_activate
        self.debounce_ms = debounce_ms
        self._program: Program | None = None
        self._lock = threading.Lock()
        self.last_errors: list[RuleError] = []
        self._tasks: set[asyncio.Task] = set()
        version, errors = self.reload()
        if self._program is None:
            raise RuleFileErrors(errors)

    @property
    def program(self) -> Program:
        assert self._program is not None
        return self._program

    def reload(self) -> tuple[str, list[RuleError]]:
        """(active version, errors). An unchanged folder keeps its Program object."""
        version, errors, activated = self._swap()
        if activated is not None:
            self._notify(activated)
        return version, errors

    def _swap(self) -> tuple[str, list[RuleError], Program | None]:
        with self._lock:
            current = self._program
            try:
                files = read_sources(self.folder)
                if current is not None and current.sources == files:
                    self.last_errors = []
                    return current.version, [], None
                program = load_program_from_sources(files)
            except RuleFileErrors as exc:
                self.last_errors = exc.errors
                active = current.version if current else ""
                log.error(
                    "rules not reloaded, keeping version %s:\n%s",
                    active or "(none)",
                    "\n".join(str(e) for e in exc.errors),
                )
                return active, exc.errors, None
            self._program = program
            self.last_errors = []
        log.info("rules version %s active (%d rules)", program.version, len(program.rules))
        return program.version, [], program

    def _notify(self, program: Program) -> None:
        if self.on_activate is None:
            return
        result = self.on_activate(program)
        if asyncio.iscoroutine(result):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(result)
            else:
                task = loop.create_task(result)
                self._tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("on_activate hook failed", exc_info=task.exception())

    async def watch(self, stop_event: asyncio.Event | None = None) -> None:
        """Reload on every change under the folder, debounced, until cancelled or stopped.

        Compiling runs in a worker thread; the hook runs (and is awaited) on this loop.
        """
        from watchfiles import awatch

        async for _changes in awatch(self.folder, debounce=self.debounce_ms, stop_event=stop_event):
            _, _, activated = await asyncio.to_thread(self._swap)
            if activated is not None and self.on_activate is not None:
                result = self.on_activate(activated)
                if asyncio.iscoroutine(result):
                    try:
                        await result
                    except Exception:
                        log.exception("on_activate hook failed")
