"""Shutting down without dropping work: on SIGTERM, report not ready, finish what came in,
then let uvicorn stop accepting and close the pools.

uvicorn's own handler stops at once: it closes the listening socket and every connection
that is between requests, so a request that had arrived but was not yet read was reset
(183 of a burst of 200 orders, in the issue's trial). Here the signal first turns
readiness off and waits, up to the grace period, until no request has been in flight
for a moment; only then does it hand the signal to uvicorn's handler, which closes what
is by then idle. A request arriving during the drain is served, not refused: behind a
load balancer it is one that was routed before the balancer saw readiness turn off.

Background work is told to stop when the drain begins (`on_drain`: the scheduler's job
in flight stops then, not after the requests). Everything after the signal runs on the
event loop, so a loop held by synchronous work would run none of it (it happened: a
job compiling a statement for over an hour outlived SIGTERM by 90 minutes); a watchdog
thread, armed by the signal, ends the process once every bound has passed.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("loyalty.lifecycle")

# How long no request must have been in flight before the drain counts as done: long
# enough for the event loop to read requests that have arrived on open connections.
QUIET_SECONDS = 1.0
_TICK = 0.05
EXIT_STUCK = 70
"""The watchdog's exit status (EX_SOFTWARE): the process did not stop in time by itself."""


class Lifecycle:
    def __init__(self, exit_now: Callable[[int], object] = os._exit) -> None:
        self.draining = False
        self.in_flight = 0
        self.on_drain: list[Callable[[], None]] = []
        """Called on the event loop when the drain begins (stop background work)."""
        self._drain: asyncio.Task[None] | None = None
        self._exit_now = exit_now
        self._watchdog: threading.Timer | None = None

    def request_started(self) -> None:
        self.in_flight += 1

    def request_finished(self) -> None:
        self.in_flight -= 1

    def begin_drain(self) -> None:
        """From now on /health/ready answers 503."""
        self.draining = True

    async def drained(self, *, drain_seconds: float, grace_seconds: float) -> None:
        """Returns once no request has been in flight for QUIET_SECONDS (after at least
        drain_seconds), or when grace_seconds have passed, whichever comes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_seconds
        await asyncio.sleep(min(drain_seconds, grace_seconds))
        quiet_since = loop.time() if self.in_flight == 0 else None
        while loop.time() < deadline:
            if self.in_flight:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= QUIET_SECONDS:
                return
            await asyncio.sleep(_TICK)
        log.warning("grace period over with %d requests in flight", self.in_flight)

    def arm_watchdog(self, seconds: float) -> None:
        """Ends the process `seconds` from now unless it has exited by then. A thread, so
        that it fires even while the event loop is held."""
        if self._watchdog is not None:
            return

        def expire() -> None:
            log.error("still running %.0f s after the signal (the event loop is held): exiting", seconds)
            self._exit_now(EXIT_STUCK)

        self._watchdog = threading.Timer(seconds, expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def stop_background(self) -> None:
        for stop in self.on_drain:
            try:
                stop()
            except Exception:  # noqa: BLE001 - one failing stop must not keep the others from running
                log.exception("stopping background work failed")

    def drain_on_signals(self, *, drain_seconds: float, grace_seconds: float, give_up_seconds: float) -> None:
        """Puts the drain in front of the server's SIGTERM and SIGINT handlers (uvicorn's,
        installed before the lifespan starts). A second signal hands over at once.
        `give_up_seconds` after the first signal the watchdog ends the process."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            server_handler = signal.getsignal(sig)
            if not callable(server_handler):
                continue  # no server in front of this app (tests, a bare ASGI host)

            def handler(
                signum: int, frame: FrameType | None, server_handler: Callable[..., Any] = server_handler
            ) -> None:
                if self.draining:
                    server_handler(signum, frame)
                    return
                self.begin_drain()
                self.arm_watchdog(give_up_seconds)
                log.info("%s: draining (%d requests in flight)", signal.Signals(signum).name, self.in_flight)
                # A fresh context: the signal interrupts whichever request was running,
                # and the drain must not carry that request's id into its log lines.
                fresh = contextvars.Context()
                loop.call_soon_threadsafe(
                    self._start_drain, server_handler, signum, drain_seconds, grace_seconds, context=fresh
                )

            signal.signal(sig, handler)

    def _start_drain(
        self, server_handler: Callable[..., Any], signum: int, drain_seconds: float, grace_seconds: float
    ) -> None:
        self.stop_background()

        async def drain_then_stop() -> None:
            await self.drained(drain_seconds=drain_seconds, grace_seconds=grace_seconds)
            log.info("drained; stopping")
            server_handler(signum, None)

        self._drain = asyncio.get_running_loop().create_task(drain_then_stop(), name="drain")
