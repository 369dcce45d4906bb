"""The scheduler process: polls on its interval, stops cleanly on signals, loses nothing."""

from __future__ import annotations

import signal
from itertools import pairwise
from statistics import mean

import pytest

from tests.process import (
    ManagedProcess,
    count_records,
    free_port,
    manage,
    record_keys,
    tracker_env,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def ticker_times(kraken) -> list[float]:
    return [at for method, _, at in kraken.requests if method == "Ticker"]


def test_scheduler_polls_every_interval(env, kraken, tmp_path):
    """TRACKER_FETCH_INTERVAL=1 with ccxt's request spacing on (Kraken: one per second)."""
    with ManagedProcess("runscheduler", env=env) as tracker:
        kraken.wait_for_requests("Ticker", 8, timeout=30)
        wait_until(lambda: count_records(tmp_path) >= 40, timeout=10, what="eight ticks stored")
        assert tracker.stop() == 0
    assert "polling 2 pairs on kraken" in tracker.output

    # From the second tick on (the first one also loads the markets): 6 gaps of one second.
    # The schedule is anchored, so a late tick is followed by a shorter gap, not a drift.
    gaps = [later - earlier for earlier, later in pairwise(ticker_times(kraken)[1:8])]
    assert 0.85 <= mean(gaps) <= 1.15, gaps
    assert max(gaps) < 1.6, gaps


def test_an_exchange_slower_than_the_interval_is_reported_as_missed_ticks(env, kraken):
    kraken.misbehave("delay", method="Ticker", delay=1.6)
    with ManagedProcess("runscheduler", env=env) as tracker:
        kraken.wait_for_requests("Ticker", 3, timeout=30)
        wait_until(
            lambda: "skipped the poll of kraken due at" in tracker.output,
            timeout=10,
            what="the warning",
        )
        assert tracker.stop() == 0
    missed = [
        line for line in tracker.output.splitlines() if "skipped the poll of kraken due at" in line
    ]
    assert " WARNING tracker.runtime.jobs" in missed[0], missed
    assert "still running" in missed[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_lets_the_tick_in_flight_finish_and_restart_loses_nothing(
    env, kraken, tmp_path, signum
):
    kraken.misbehave("delay", method="Ticker", delay=1.5)  # every tick spends 1.5 s in flight
    with ManagedProcess("runscheduler", env=env) as tracker:
        kraken.wait_for_requests("Ticker", 2, timeout=20)  # the second tick is now in flight
        assert tracker.stop(signum) == 0

    assert kraken.request_count("Ticker") == 2  # no tick started after the signal
    assert count_records(tmp_path) == 20, tracker.output  # both ticks, 2 pairs x 5 metrics
    assert f"{signal.Signals(signum).name} received, stopping" in tracker.output
    before = record_keys(tmp_path)

    kraken.behave()
    with ManagedProcess("runscheduler", env=env) as again:
        wait_until(lambda: count_records(tmp_path) >= 30, timeout=20, what="polling after restart")
        assert again.stop() == 0
    assert before <= record_keys(tmp_path)
    assert "seeded" not in again.output  # the pairs were kept, not seeded twice


def test_the_scheduler_keeps_running_while_the_exchange_is_down(env, kraken, tmp_path):
    kraken.misbehave("http_error", method="Ticker", status=503)
    with ManagedProcess("runscheduler", env=env) as tracker:
        kraken.wait_for_requests("Ticker", 2, timeout=20)
        assert tracker.alive()
        assert count_records(tmp_path) == 0
        kraken.behave()
        wait_until(lambda: count_records(tmp_path) >= 10, timeout=30, what="recovery")
        assert tracker.stop() == 0
    assert "poll of kraken failed (ExchangeUnavailable" in tracker.output
    assert "kraken is back after" in tracker.output


def test_an_unknown_symbol_stops_the_scheduler_with_its_name(env, kraken):
    env["TRACKER_PAIRS"] = "BTC/USD,NOPE/USD"
    with ManagedProcess("runscheduler", env=env) as tracker:
        assert tracker.proc is not None
        code = tracker.proc.wait(timeout=30)
    assert code == 1
    assert "kraken does not list NOPE/USD" in tracker.output


def test_seedpairs_names_the_unknown_symbol(env, kraken):
    env["TRACKER_PAIRS"] = "BTC/USD,NOPE/USD"
    result = manage("seedpairs", env=env)
    assert result.returncode == 1
    assert "cannot seed pairs: kraken does not list NOPE/USD" in result.stderr


def test_seedpairs_seeds_once(env, kraken):
    first = manage("seedpairs", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "kraken: tracking BTC/USD, ETH/USD"
    env["TRACKER_PAIRS"] = "LTC/USD"
    again = manage("seedpairs", env=env)
    assert again.stdout.strip() == "kraken: tracking BTC/USD, ETH/USD"


def test_refuses_to_start_without_a_secret_key_when_debug_is_off(env):
    del env["DJANGO_SECRET_KEY"]
    result = manage("runscheduler", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_an_unreachable_exchange_is_said_once_with_the_offline_demo(tmp_path):
    env = tracker_env(tmp_path, TRACKER_EXCHANGE_URL=f"http://127.0.0.1:{free_port()}")
    assert manage("migrate", "--no-input", env=env).returncode == 0
    with ManagedProcess("runscheduler", env=env) as tracker:
        wait_until(lambda: "failure 3 in a row" in tracker.output, timeout=30, what="3 retries")
        assert tracker.stop() == 0
    said = [line for line in tracker.output.splitlines() if "cannot reach kraken" in line]
    assert len(said) == 1, tracker.output
    assert f"at {env['TRACKER_EXCHANGE_URL']}" in said[0]
    assert "make demo" in said[0]
    assert "Traceback" not in tracker.output
