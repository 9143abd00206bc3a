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

    `on_activate(program)` lets the service layer store `program.version` and
    `program.sources`. Through `reload_async` (and `watch`) it is awaited before the version
    goes live; through the synchronous `reload` (start-up, tools) it runs after.
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
        """(active version, errors), synchronously: for start-up and tools. A sync hook runs
        after activation; an async one is scheduled. Services use `reload_async`."""
        candidate, errors = self._load()
        if candidate is None:
            return self._active_version(), errors
        self._activate(candidate)
        self._notify(candidate)
        return candidate.version, []

    async def reload_async(self) -> tuple[str, list[RuleError]]:
        """(active version, errors). Compiles in a worker thread, then awaits the hook
        *before* the new version goes live, so that whatever the hook stores (the service
        keeps every version) exists before any ledger entry can name it. A hook that
        fails leaves the version in force, and says so as an error."""
        candidate, errors = await asyncio.to_thread(self._load)
        if candidate is None:
            return self._active_version(), errors
        if self.on_activate is not None:
            try:
                result = self.on_activate(candidate)
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:
                log.exception("on_activate hook failed; keeping version %s", self._active_version())
                error = RuleError("", 0, 0, f"version {candidate.version} not activated: {exc}", None)
                self.last_errors = [error]
                return self._active_version(), [error]
        self._activate(candidate)
        return candidate.version, []

    def _active_version(self) -> str:
        return self._program.version if self._program is not None else ""

    def _load(self) -> tuple[Program | None, list[RuleError]]:
        """A new Program when the folder changed and validates; (None, []) when unchanged,
        (None, errors) when it does not validate (and the errors are logged)."""
        with self._lock:
            current = self._program
            try:
                files = read_sources(self.folder)
                if current is not None and current.sources == files:
                    self.last_errors = []
                    return None, []
                program = load_program_from_sources(files)
            except RuleFileErrors as exc:
                self.last_errors = exc.errors
                log.error(
                    "rules not reloaded, keeping version %s:\n%s",
                    self._active_version() or "(none)",
                    "\n".join(str(e) for e in exc.errors),
                )
                return None, exc.errors
        return program, []

    def _activate(self, program: Program) -> None:
        with self._lock:
            self._program = program
            self.last_errors = []
        log.info("rules version %s active (%d rules)", program.version, len(program.rules))

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
        """Reload on every change under the folder, debounced, until cancelled or stopped."""
        from watchfiles import awatch

        async for _changes in awatch(self.folder, debounce=self.debounce_ms, stop_event=stop_event):
            await self.reload_async()
