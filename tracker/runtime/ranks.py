"""Keeping the rank snapshot fresh: a refresh of each kind an ingest touched, off the loop.

`RankRefresher` subscribes to the "records ingested" event. The subscriber only notes the
metric ids and wakes the loop (it runs in the committing thread and must be quick); the loop
finds their kinds and refreshes each kind in a worker thread (`services.ranks_refresh`),
coalescing: at most one refresh per kind in flight, at most one per kind every `min_interval`
seconds (a streamed exchange stores a sample every second), and ingests that arrive meanwhile
are covered by the next one. A database error is one WARNING line; the next ingest tries again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable

from asgiref.sync import sync_to_async
from django.db.utils import Error as DatabaseFailure

from tracker.common.clock import utc_now
from tracker.common.database import connections_drop, database_error_text
from tracker.markets import events, services
from tracker.markets.models import Metric

logger = logging.getLogger(__name__)

CHUNK = 2000


def _kinds_read(metric_ids: list[int]) -> dict[int, str]:
    kinds: dict[int, str] = {}
    try:
        for first in range(0, len(metric_ids), CHUNK):
            rows = Metric.objects.filter(id__in=metric_ids[first : first + CHUNK])
            kinds.update(rows.values_list("id", "kind"))
    finally:
        connections_drop()  # a pool thread: nothing kept open between ingests
    return kinds


def _kind_refresh(kind: str) -> None:
    try:
        services.ranks_refresh(kinds=[kind], now=utc_now())
    finally:
        connections_drop()


class RankRefresher:
    """Refreshes the rank snapshot of the kinds ingests touch; `start`, then `close`."""

    def __init__(
        self,
        *,
        min_interval: float = 1.0,
        refresh: Callable[[str], None] = _kind_refresh,
        kinds_read: Callable[[list[int]], dict[int, str]] = _kinds_read,
    ) -> None:
        self.min_interval = min_interval
        self._refresh = refresh
        self._kinds_read = kinds_read
        self._kind_of: dict[int, str] = {}  # a metric's kind never changes
        self._pending: set[int] = set()
        self._pending_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._last: dict[str, float] = {}

    @property
    def queued(self) -> frozenset[str]:
        """The kinds to refresh again once their refresh in flight is done."""
        return frozenset(self._again)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._runner = asyncio.create_task(self._run(), name="rank refresher")
        events.subscribe(self._on_ingest)

    async def close(self) -> None:
        """Stop following ingests; let the refreshes in flight finish."""
        events.unsubscribe(self._on_ingest)
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    def _on_ingest(self, event: events.RecordsIngested) -> None:
        """In the committing thread: note the ids, wake the loop."""
        with self._pending_lock:
            self._pending.update(event.metric_ids)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._pending_lock:
                ids, self._pending = self._pending, set()
            try:
                kinds = await self._kinds(ids)
            except DatabaseFailure as exc:
                logger.warning("rank refresh: metric kinds unread (%s)", database_error_text(exc))
                continue
            for kind in kinds:
                self._mark(kind)

    async def _kinds(self, ids: Iterable[int]) -> set[str]:
        unknown = [metric_id for metric_id in ids if metric_id not in self._kind_of]
        if unknown:
            read = sync_to_async(self._kinds_read, thread_sensitive=False)
            self._kind_of.update(await read(unknown))
        return {self._kind_of[m] for m in ids if m in self._kind_of}

    def _mark(self, kind: str) -> None:
        if kind in self._refreshing:
            self._again.add(kind)  # the refresh in flight may have read before this ingest
        else:
            self._refreshing[kind] = asyncio.create_task(
                self._kind_loop(kind), name=f"rank refresh {kind}"
            )

    async def _kind_loop(self, kind: str) -> None:
        try:
            while True:
                wait = self._last.get(kind, -self.min_interval) + self.min_interval
                wait -= time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._again.discard(kind)
                self._last[kind] = time.monotonic()
                try:
                    await sync_to_async(self._refresh, thread_sensitive=False)(kind)
                except DatabaseFailure as exc:
                    logger.warning(
                        "rank refresh of %s failed (%s); the next ingest tries again",
                        kind,
                        database_error_text(exc),
                    )
                except Exception:
                    logger.exception("rank refresh of %s failed; the next ingest tries again", kind)
                if kind not in self._again:
                    return
        finally:
            self._refreshing.pop(kind, None)
