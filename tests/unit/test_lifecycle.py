"""Shutdown's parts that need no server: background work stopped when the drain begins,
and the watchdog that ends a process whose event loop is held."""

from __future__ import annotations

import time

from api.lifecycle import EXIT_STUCK, Lifecycle


def test_the_watchdog_ends_a_process_whose_event_loop_is_held():
    exits: list[int] = []
    lifecycle = Lifecycle(exit_now=exits.append)
    lifecycle.arm_watchdog(0.05)

    deadline = time.monotonic() + 10
    while not exits and time.monotonic() < deadline:
        time.sleep(0.01)  # synchronous work: no event loop runs meanwhile

    assert exits == [EXIT_STUCK]


def test_every_background_stop_runs_even_when_one_fails():
    stopped: list[str] = []
    lifecycle = Lifecycle(exit_now=lambda status: None)

    def failing() -> None:
        raise RuntimeError("gone")

    lifecycle.on_drain.extend([failing, lambda: stopped.append("scheduler")])
    lifecycle.stop_background()

    assert stopped == ["scheduler"]
