"""Stopping: a tick over TRACKER_SHUTDOWN_GRACE is cancelled; a second signal does not wait."""

from __future__ import annotations

import signal
import time

import pytest

from tests.process import ManagedProcess, count_records
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def start_a_slow_tick(tracker, kraken, tmp_path, *, delay: float) -> int:
    """Let one tick store, then make the exchange slow and wait until a tick waits on it."""
    wait_until(lambda: count_records(tmp_path) >= 4, timeout=20, what="a first tick")
    stored = count_records(tmp_path)
    kraken.misbehave("delay", method="Ticker", delay=delay)
    asked = kraken.request_count("Ticker")
    kraken.wait_for_requests("Ticker", asked + 1, timeout=10)
    return stored


def test_a_tick_longer_than_the_grace_is_cancelled_and_leaves_nothing(env, kraken, tmp_path):
    env["TRACKER_SHUTDOWN_GRACE"] = "1"
    with ManagedProcess("runscheduler", env=env) as tracker:
        stored = start_a_slow_tick(tracker, kraken, tmp_path, delay=8)
        asked = time.monotonic()
        assert tracker.stop(signal.SIGTERM, timeout=15) == 0
        took = time.monotonic() - asked

    assert 0.9 <= took < 5, took  # waited for the grace period, not for the exchange
    assert "the tick in flight was cancelled" in tracker.output
    assert count_records(tmp_path) == stored


def test_a_second_signal_stops_at_once(env, kraken, tmp_path):
    env["TRACKER_SHUTDOWN_GRACE"] = "30"
    with ManagedProcess("runscheduler", env=env) as tracker:
        assert tracker.proc is not None
        stored = start_a_slow_tick(tracker, kraken, tmp_path, delay=8)
        tracker.proc.send_signal(signal.SIGTERM)
        wait_until(
            lambda: "SIGTERM received, stopping" in tracker.output, timeout=5, what="stopping"
        )
        asked = time.monotonic()
        assert tracker.stop(signal.SIGTERM, timeout=15) == 0
        took = time.monotonic() - asked

    assert took < 3, took
    assert "second SIGTERM: stopping without waiting" in tracker.output
    assert count_records(tmp_path) == stored
