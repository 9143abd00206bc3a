"""The failed-authentication limit: per client, per window, in bounded memory."""

from __future__ import annotations

from app.auth_throttle import FailedAuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_is_refused_after_the_limit_until_its_window_ends():
    clock = Clock()
    throttle = FailedAuthThrottle(3, 60, clock=clock)
    for _ in range(2):
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") is None
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 60
    clock.now += 59.5
    assert throttle.retry_after("10.0.0.1") == 1
    clock.now += 0.5
    assert throttle.retry_after("10.0.0.1") is None


def test_one_clients_failures_do_not_refuse_another():
    throttle = FailedAuthThrottle(1, 60, clock=Clock())
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 60
    assert throttle.retry_after("10.0.0.2") is None


def test_failures_in_an_earlier_window_do_not_count():
    clock = Clock()
    throttle = FailedAuthThrottle(2, 60, clock=clock)
    throttle.failed("10.0.0.1")
    clock.now += 61
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") is None


def test_memory_is_bounded_forgetting_the_least_recently_failing_client():
    throttle = FailedAuthThrottle(1, 60, max_clients=100, clock=Clock())
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle) == 100
    assert throttle.retry_after("10.0.3.231") == 60
    assert throttle.retry_after("10.0.0.0") is None


def test_a_limit_of_zero_turns_the_throttle_off():
    throttle = FailedAuthThrottle(0, 60, clock=Clock())
    for _ in range(100):
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") is None
    assert len(throttle) == 0
