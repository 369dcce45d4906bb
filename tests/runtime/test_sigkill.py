"""The tracker killed with SIGKILL while it polls: what was committed is whole, nothing is half.

A tick is one transaction (records and their minute rollups together), so however often the
process dies, every stored tick has a record for every metric, every rollup counts exactly the
records of its minute, the database file is intact, and the next start carries on.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.process import ManagedProcess, count_records, manage, tracker_env
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
PAIRS = "BTC/USD,ETH/USD,LTC/USD,XRP/USD,SOL/USD,ADA/USD,DOT/USD,DOGE/USD"
METRICS = 40  # 8 pairs x (price, volume, bid, ask, spread)


def _database(workdir: Path) -> sqlite3.Connection:
    return sqlite3.connect(workdir / "tracker.sqlite3")


def test_sigkill_mid_tick_leaves_only_whole_ticks(tmp_path, kraken):
    env = tracker_env(tmp_path, TRACKER_EXCHANGE_URL=kraken.url, TRACKER_PAIRS=PAIRS)
    assert manage("migrate", "--no-input", env=env).returncode == 0
    rng = random.Random(11)
    for _ in range(3):
        before = count_records(tmp_path)
        with ManagedProcess("runscheduler", env=env) as tracker:
            wait_until(
                lambda: count_records(tmp_path) > before,  # noqa: B023 (used within this pass)
                timeout=30,
                what="a stored tick",
            )
            # Land somewhere in the next tick: before, during or after its write.
            deadline = kraken.request_count("Ticker") + 1
            kraken.wait_for_requests("Ticker", deadline, timeout=10)
            time.sleep(rng.uniform(0.0, 0.05))  # the kill's moment, not a wait for a result
            assert tracker.stop(signal.SIGKILL) == -signal.SIGKILL

    with _database(tmp_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        per_tick = db.execute(
            "SELECT timestamp, COUNT(*) FROM markets_record GROUP BY timestamp"
        ).fetchall()
        assert per_tick and {count for _, count in per_tick} == {METRICS}, per_tick
        mismatched = db.execute(
            """
            SELECT r.metric_id, r.minute, r.count, COUNT(x.value)
            FROM markets_minuterollup r LEFT JOIN markets_record x
              ON x.metric_id = r.metric_id
             AND strftime('%Y-%m-%d %H:%M', x.timestamp) = strftime('%Y-%m-%d %H:%M', r.minute)
            GROUP BY r.metric_id, r.minute, r.count
            HAVING r.count != COUNT(x.value)
            """
        ).fetchall()
        assert mismatched == []

    stored = count_records(tmp_path)
    with ManagedProcess("runscheduler", env=env) as tracker:
        wait_until(lambda: count_records(tmp_path) > stored, timeout=30, what="polling again")
        assert tracker.stop() == 0
