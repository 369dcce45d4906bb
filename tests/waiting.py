"""Waiting for a condition with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    every: float = 0.05,
    pause: Callable[[float], object] = time.sleep,
) -> T:
    """The first truthy value of `condition()`; fails naming `what` after `timeout` seconds.
    `pause(seconds)` waits between two tries (a browser test waits in the browser's time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        pause(every)
