"""Two exchanges in one process: seeded from the environment, each on its own interval, and
following changes made to the exchanges table while the process runs."""

from __future__ import annotations

import sqlite3
import time
from itertools import pairwise
from statistics import mean

import pytest

from tests.process import ManagedProcess, manage, tracker_env
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def arrivals(fake, method: str, *, after: float = 0.0) -> list[float]:
    return [at for name, _, at in list(fake.requests) if name == method and at > after]


def query(workdir, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(workdir / "tracker.sqlite3") as db:
        return db.execute(sql, args).fetchall()


def exchange_set(workdir, name: str, **fields: object) -> None:
    assignments = ", ".join(f"{field} = ?" for field in fields)
    with sqlite3.connect(workdir / "tracker.sqlite3") as db:
        db.execute(
            f"UPDATE markets_exchange SET {assignments} WHERE name = ?",
            (*fields.values(), name),
        )


@pytest.fixture
def env(tmp_path, kraken, bitstamp) -> dict[str, str]:
    env = tracker_env(
        tmp_path,
        TRACKER_EXCHANGES="kraken,bitstamp",
        TRACKER_EXCHANGE_URLS=f"kraken={kraken.url},bitstamp={bitstamp.url}",
        TRACKER_PAIRS="BTC/USD,kraken:ETH/USD,NOPE/USD",
        TRACKER_EXCHANGE_SYNC="0.3",
    )
    migrated = manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env


def test_two_exchanges_seeded_and_polled_on_their_own_intervals(env, kraken, bitstamp, tmp_path):
    with ManagedProcess("runscheduler", env=env) as tracker:
        bitstamp.wait_for_requests("ticker", 2, timeout=30)
        kraken.wait_for_requests("Ticker", 2, timeout=30)
        pairs = query(
            tmp_path,
            "SELECT e.name, p.symbol FROM markets_pair p JOIN markets_exchange e "
            "ON e.id = p.exchange_id ORDER BY e.name, p.symbol",
        )
        assert pairs == [
            ("bitstamp", "BTC/USD"),
            ("kraken", "BTC/USD"),
            ("kraken", "ETH/USD"),
        ]
        assert "bitstamp does not list NOPE/USD; not tracked there" in tracker.output

        # A change in the table, as PATCH /api/v1/exchanges/bitstamp makes it: no restart.
        exchange_set(tmp_path, "bitstamp", interval=2.5)
        wait_until(
            lambda: "polling bitstamp every 2.5s from now on" in tracker.output,
            timeout=10,
            what="the new interval",
        )
        changed = time.time()
        bitstamp.wait_for_requests("ticker", len(arrivals(bitstamp, "ticker")) + 4, timeout=30)
        kraken_gaps = [b - a for a, b in pairwise(arrivals(kraken, "Ticker", after=changed))]
        bitstamp_gaps = [b - a for a, b in pairwise(arrivals(bitstamp, "ticker", after=changed))]
        assert 0.8 <= mean(kraken_gaps) <= 1.25, kraken_gaps
        assert 2.2 <= mean(bitstamp_gaps) <= 2.8, bitstamp_gaps

        health = query(
            tmp_path,
            "SELECT name, last_success IS NOT NULL, consecutive_failures FROM markets_exchange "
            "ORDER BY name",
        )
        assert health == [("bitstamp", 1, 0), ("kraken", 1, 0)]

        exchange_set(tmp_path, "kraken", enabled=False)
        wait_until(
            lambda: "stopped polling kraken: disabled" in tracker.output,
            timeout=10,
            what="kraken disabled",
        )
        stopped = kraken.request_count("Ticker")
        bitstamp.wait_for_requests("ticker", len(arrivals(bitstamp, "ticker")) + 2, timeout=30)
        assert kraken.request_count("Ticker") <= stopped + 1  # at most the tick in flight
        assert tracker.stop() == 0


def test_seedpairs_seeds_every_configured_exchange(env, tmp_path):
    seeded = manage("seedpairs", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.splitlines() == [
        "kraken: tracking BTC/USD, ETH/USD",
        "bitstamp: tracking BTC/USD",
    ]
    exchanges = query(tmp_path, "SELECT name, base_url FROM markets_exchange ORDER BY name")
    assert [name for name, _ in exchanges] == ["bitstamp", "kraken"]
    assert all(url.startswith("http://127.0.0.1:") for _, url in exchanges)


def test_health_follows_failures_and_recovery(env, kraken, bitstamp, tmp_path):
    def health() -> tuple:
        return query(
            tmp_path,
            "SELECT consecutive_failures, last_error, last_success IS NOT NULL "
            "FROM markets_exchange WHERE name = 'bitstamp'",
        )[0]

    with ManagedProcess("runscheduler", env=env) as tracker:
        bitstamp.wait_for_requests("ticker", 2, timeout=30)
        bitstamp.misbehave("http_error", method="ticker", status=503)
        wait_until(lambda: health()[0] >= 1, timeout=20, what="a failure recorded")
        failures, error, succeeded = health()
        assert error and succeeded, (failures, error)
        assert query(tmp_path, "SELECT consecutive_failures FROM markets_exchange "
                     "WHERE name = 'kraken'") == [(0,)]  # fmt: skip
        bitstamp.behave()
        wait_until(lambda: health()[0] == 0, timeout=30, what="recovery recorded")
        assert health()[1] == error  # the last error is kept for the record
        assert tracker.stop() == 0


def test_stream_mode_on_an_exchange_without_a_stream_keeps_polling_it(env, bitstamp, tmp_path):
    # The API refuses it; the table can still say so (the admin, an older release).
    note = "bitstamp is set to mode=stream but has no ticker stream; it is polled every 1s"
    with ManagedProcess("runscheduler", env=env) as tracker:
        bitstamp.wait_for_requests("ticker", 1, timeout=30)
        exchange_set(tmp_path, "bitstamp", mode="stream")
        wait_until(lambda: note in tracker.output, timeout=10, what="the note")
        seen = bitstamp.request_count("ticker")
        bitstamp.wait_for_requests("ticker", seen + 2, timeout=30)
        assert tracker.stop() == 0
    assert tracker.output.count(note) == 1  # once, not at every read of the table
