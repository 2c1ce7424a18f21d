"""The login throttle's table: growing waits, reset on success, forgetting, bounded size."""

from __future__ import annotations

from terminal.throttle import FORGET_AFTER_S, MAX_DELAY_S, LoginThrottle, login_keys


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_are_free_then_each_one_doubles_the_wait() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    keys = login_keys(" Engineer ", "10.0.0.1")
    assert keys == ["user:engineer", "addr:10.0.0.1"]
    for _ in range(4):
        throttle.failed(keys)
        assert throttle.retry_after(keys) == 0
    waits = []
    for _ in range(5):
        throttle.failed(keys)
        waits.append(throttle.retry_after(keys))
    assert waits == [1, 2, 4, 8, 16]
    clock.now += 15.5
    assert throttle.retry_after(keys) == 1
    assert throttle.retry_after(["user:engineer", "addr:10.0.0.2"]) == 1  # the user name alone still waits
    assert throttle.retry_after(["user:other", "addr:10.0.0.1"]) == 1  # so does the address
    throttle.succeeded(keys)
    assert throttle.retry_after(keys) == 0 and len(throttle) == 0


def test_the_wait_is_capped_and_old_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(40):
        throttle.failed(["user:x"])
    assert throttle.retry_after(["user:x"]) == MAX_DELAY_S
    clock.now += MAX_DELAY_S + FORGET_AFTER_S + 1
    assert throttle.retry_after(["user:x"]) == 0
    throttle.failed(["user:x"])
    assert throttle.retry_after(["user:x"]) == 0  # counting from one again, not from 41


def test_the_table_keeps_a_bounded_number_of_keys() -> None:
    throttle = LoginThrottle(clock=Clock(), max_keys=100)
    for n in range(1000):
        throttle.failed([f"user:u{n}", "addr:1.2.3.4"])
    assert len(throttle) == 100
    assert throttle.retry_after(["addr:1.2.3.4"]) > 0  # the key failing all along is kept
