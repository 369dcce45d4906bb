"""The running tracker refreshes the rank snapshot of the kinds its ticks store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.process import ManagedProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def _price_ranks(workdir: Path) -> list[tuple[int | None, int, int]]:
    with sqlite3.connect(workdir / "tracker.sqlite3") as db:
        return db.execute(
            "SELECT rank, rank_of, count FROM markets_metricrank WHERE kind = 'price' "
            "ORDER BY metric_id"
        ).fetchall()


def test_ticks_are_followed_by_a_rank_refresh(env, kraken, tmp_path):
    with ManagedProcess("runscheduler", env=env) as tracker:
        # Two ticks store two records of each pair: both are rankable.

        def both_counted() -> list[tuple[int | None, int, int]]:
            rows = _price_ranks(tmp_path)
            return rows if len(rows) == 2 and all(n >= 2 for _, _, n in rows) else []

        ranks = wait_until(both_counted, timeout=30, what="both price metrics ranked")
        assert tracker.stop() == 0
    assert [rank_of for _, rank_of, _ in ranks] == [2, 2]
    assert sorted(rank for rank, _, _ in ranks if rank is not None)[0] == 1
