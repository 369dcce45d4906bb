"""Rank refreshes follow ingests coalesced: one in flight per kind, one more for all the
ingests that arrived during it, whatever their number."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from tracker.markets import events
from tracker.runtime.ranks import RankRefresher

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
KINDS = {1: "price", 2: "volume"}


def _ingested(metric_id: int) -> None:
    event = events.RecordsIngested(1, (metric_id,), NOW, NOW, 1)
    events.records_ingested_send(event)  # as records_ingest does once it committed


async def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def test_ingests_during_a_refresh_make_one_more_refresh_not_one_each():
    calls: list[str] = []
    started, release = threading.Event(), threading.Event()

    def refresh(kind: str) -> None:
        calls.append(kind)
        started.set()
        release.wait(10)

    async def scenario() -> None:
        refresher = RankRefresher(
            min_interval=0,
            refresh=refresh,
            kinds_read=lambda ids: {m: KINDS[m] for m in ids},
        )
        refresher.start()
        try:
            _ingested(1)
            await asyncio.to_thread(started.wait, 10)
            for _ in range(5):
                _ingested(1)
            _ingested(2)
            await _until(
                lambda: refresher.queued == {"price"} and "volume" in calls,
                "price queued behind its refresh in flight, volume refreshing",
            )
            release.set()
            await _until(lambda: len(calls) == 3 and not refresher.queued, "the queued refresh")
        finally:
            release.set()
            await refresher.close()

    asyncio.run(scenario())
    assert sorted(calls) == ["price", "price", "volume"]
