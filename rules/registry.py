"""The active rules version, swapped only for a folder that fully validates."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
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

    def __init__(self, folder: Path, on_activate: OnActivate | None = None, quiet_ms: int = 2000) -> None:
        self.folder = Path(folder)
        self.on_activate = on_activate
        self.quiet_ms = quiet_ms
        """How long the folder must stay unchanged before the watcher loads it: a deploy that
        writes several files must not activate the half-written folder in between."""
        self.on_live: Callable[[Program], None] | None = None
        """Called after each version goes live (the service's: see app.program_memory)."""
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
                return None, self._refused(exc.errors)
            except Exception as exc:  # noqa: BLE001 - a reload never takes the service down
                log.exception("loading %s failed", self.folder)
                return None, self._refused([RuleError(str(self.folder), 1, 1, f"cannot load the folder: {exc!r}")])
        return program, []

    def _refused(self, errors: list[RuleError]) -> list[RuleError]:
        self.last_errors = errors
        log.error(
            "rules not reloaded, keeping version %s:\n%s",
            self._active_version() or "(none)",
            "\n".join(str(e) for e in errors),
        )
        return errors

    async def adopt(self, version: str, sources: dict[str, str]) -> bool:
        """Put in force a version another worker activated (stored sources), without the
        hook: it is stored already. False (and logged) when it does not load here."""
        if version == self._active_version():
            return False
        try:
            program = await asyncio.to_thread(load_program_from_sources, sources)
        except Exception:  # noqa: BLE001 - keep the version in force; the next signal retries
            log.exception("rules version %s activated elsewhere does not load here", version)
            return False
        self._activate(program)
        return True

    def _activate(self, program: Program) -> None:
        with self._lock:
            self._program = program
            self.last_errors = []
        log.info("rules version %s active (%d rules)", program.version, len(program.rules))
        if self.on_live is not None:
            self.on_live(program)

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
        """Reload once the folder has changed and then stayed still for `quiet_ms`, until
        cancelled or stopped. Never dies: a failing reload is logged, a watcher that fails is
        restarted, and a folder replaced by another (`mv rules.new rules`) is followed."""
        while not (stop_event and stop_event.is_set()):
            try:
                await self._watch_folder(stop_event)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. the folder is missing mid-deploy: retry
                log.warning("watching %s failed; retrying", self.folder, exc_info=True)
                await asyncio.sleep(0.5)

    async def _watch_folder(self, stop_event: asyncio.Event | None) -> None:
        """Watch the directory now at `self.folder`; return when another one replaces it."""
        from watchfiles import awatch

        watched = _identity(self.folder)
        if watched is None:
            raise FileNotFoundError(self.folder)
        changed_at: float | None = time.monotonic()  # whatever happened before we watched
        tick = max(20, min(200, self.quiet_ms // 4))
        async for changes in awatch(
            self.folder,
            debounce=tick,
            step=min(50, tick),
            rust_timeout=tick,
            yield_on_timeout=True,
            stop_event=stop_event,
        ):
            now = time.monotonic()
            replaced = _identity(self.folder) != watched
            if changes:
                changed_at = now
            if changed_at is not None and now - changed_at >= self.quiet_ms / 1000:
                changed_at = None
                await self._reload_logged()
            if replaced:
                return  # watch the new directory; it loads once still (see changed_at)

    async def _reload_logged(self) -> None:
        try:
            await self.reload_async()
        except Exception:  # noqa: BLE001 - the watcher must outlive any one reload
            log.exception("reloading %s failed", self.folder)


def _identity(folder: Path) -> tuple[int, int] | None:
    """Which directory is at `folder` now (device, inode); None when there is none."""
    try:
        stat = os.stat(folder)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
