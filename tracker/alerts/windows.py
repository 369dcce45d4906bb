"""Count and sum of a metric's records over a window, from the minute rollups, kept in memory.

An evaluation after every tick needs, for every watched metric, the records of the last window
(an hour: 60 rollups per metric, 60,000 rows for 1,000 metrics). Minutes that have closed do
not change, so `WindowSums` keeps them per metric with running totals, and each evaluation
reads from the database only the minutes still open (this one and the one before, which a
late record may still reach): one or two rows per metric. A window's sums are then two look-ups
in the running totals.

A write into a minute already kept (a backfill, a very late record) is announced by its event
(`since` before what is kept): `forget` drops those metrics, which are read again whole. An
ingest in another process (a backfill started from the API while the tracker runs apart) sends
its event there, not here: kept minutes are read again after `REREAD` at the latest.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from tracker.common.clock import as_utc
from tracker.markets.models import Metric, MinuteRollup

MINUTE = timedelta(minutes=1)
KEPT = timedelta(days=1, minutes=5)  # the longest window, and a little
REREAD = 600.0  # seconds a metric's kept minutes are trusted without an event saying so


@dataclass(frozen=True, slots=True)
class WindowStats:
    """A metric's records in a window: how many, and their sum."""

    count: int
    total: float

    def average_without(self, value: float) -> tuple[float, int] | None:
        """(average, samples) of the window with one record of `value` taken out."""
        samples = self.count - 1
        if samples < 1:
            return None
        return (self.total - value) / samples, samples


@dataclass
class _Closed:
    """Closed minutes of one metric from `start` to `until` (excluded), with running totals:
    counts[i] and totals[i] sum the minutes before minutes[i]."""

    start: datetime
    until: datetime
    read_at: float = field(default_factory=time.monotonic)
    minutes: list[datetime] = field(default_factory=list)
    counts: list[int] = field(default_factory=lambda: [0])
    totals: list[float] = field(default_factory=lambda: [0.0])

    def add(self, minute: datetime, count: int, total: float) -> None:
        self.minutes.append(minute)
        self.counts.append(self.counts[-1] + count)
        self.totals.append(self.totals[-1] + total)


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class WindowSums:
    """Window counts and sums per metric: closed minutes kept, open minutes read each time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed: dict[int, _Closed] = {}
        # Rollup means are relative to the metric's reference, its first value: set once.
        self._references: dict[int, float] = {}

    def clear(self) -> None:
        with self._lock:
            self._closed.clear()
            self._references.clear()

    def forget(self, earliest: dict[int, datetime]) -> None:
        """Records were written for these metrics from these times on: kept minutes that
        include them are stale."""
        floors: dict[datetime, datetime] = {}  # a tick's records share one time
        with self._lock:
            for metric_id, since in earliest.items():
                kept = self._closed.get(metric_id)
                if kept is None:
                    continue
                if since not in floors:
                    floors[since] = minute_floor(since)
                if floors[since] < kept.until:
                    del self._closed[metric_id]

    def stats(
        self, *, metric_ids: Iterable[int], since: datetime, until: datetime
    ) -> dict[int, WindowStats]:
        """Count and sum of each metric's records in the rollups of the minutes starting in
        [since, until]."""
        ids = list(metric_ids)
        open_from = max(minute_floor(until) - MINUTE, since)
        opened = _sums(ids, since=open_from, until=until)
        stats: dict[int, WindowStats] = {}
        with self._lock:
            self._extend(ids, since=since, until=open_from)
            references = self._references_of(ids)
            closed = self._closed
            for metric_id in ids:
                kept = closed[metric_id]
                i = bisect.bisect_left(kept.minutes, since)
                j = (  # kept beyond open_from only after a later record was evaluated
                    len(kept.minutes)
                    if kept.until <= open_from
                    else bisect.bisect_left(kept.minutes, open_from)
                )
                kept_count = kept.counts[j] - kept.counts[i]
                kept_total = kept.totals[j] - kept.totals[i]
                count, offsets = opened.get(metric_id, (0, 0.0))
                if kept_count or count:
                    total = kept_total + offsets + count * references.get(metric_id, 0.0)
                    stats[metric_id] = WindowStats(kept_count + count, total)
        return stats

    def _references_of(self, ids: list[int]) -> dict[int, float]:
        unknown = [m for m in ids if m not in self._references]
        if unknown:
            self._references.update(
                (m, ref)
                for m, ref in Metric.objects.filter(id__in=unknown).values_list("id", "reference")
                if ref is not None
            )
        return self._references

    def _extend(self, ids: list[int], *, since: datetime, until: datetime) -> None:
        """Make every metric's kept minutes cover [since, until)."""
        expired = time.monotonic() - REREAD
        fresh = [
            m
            for m in ids
            if m not in self._closed
            or self._closed[m].start > since
            or self._closed[m].read_at < expired
        ]
        for metric_id in fresh:
            self._closed[metric_id] = _Closed(start=since, until=since)
        behind: dict[datetime, list[int]] = {}
        for metric_id in ids:
            kept = self._closed[metric_id]
            if kept.until < until:
                behind.setdefault(kept.until, []).append(metric_id)
        references = self._references_of(ids)
        for start, group in behind.items():
            for metric_id, minute, count, offsets in _minutes(group, since=start, until=until):
                self._closed[metric_id].add(
                    minute, count, offsets + count * references.get(metric_id, 0.0)
                )
            for metric_id in group:
                kept = self._closed[metric_id]
                kept.until = until
                if kept.minutes and kept.minutes[0] < until - KEPT:
                    self._closed[metric_id] = _trimmed(kept, until - KEPT)


def _trimmed(kept: _Closed, start: datetime) -> _Closed:
    trimmed = _Closed(start=start, until=kept.until, read_at=kept.read_at)
    for i, minute in enumerate(kept.minutes):
        if minute >= start:
            trimmed.add(
                minute,
                kept.counts[i + 1] - kept.counts[i],
                kept.totals[i + 1] - kept.totals[i],
            )
    return trimmed


def _rollups() -> str:
    return connection.ops.quote_name(MinuteRollup._meta.db_table)


def _minutes(
    ids: list[int], *, since: datetime, until: datetime
) -> list[tuple[int, datetime, int, float]]:
    """Each rollup of these metrics starting in [since, until), oldest first: its count and
    the sum of its values less the metric's reference."""
    marks = ", ".join(["%s"] * len(ids))
    sql = f"""
        SELECT metric_id, minute, count, count * offset_mean FROM {_rollups()}
        WHERE metric_id IN ({marks}) AND minute >= %s AND minute < %s
        ORDER BY metric_id, minute
    """  # noqa: S608
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, adapt(since), adapt(until)])
        return [(m, as_utc(minute), int(n), float(s)) for m, minute, n, s in cursor.fetchall()]


def _sums(ids: list[int], *, since: datetime, until: datetime) -> dict[int, tuple[int, float]]:
    """Count of each metric's rollups starting in [since, until], and the sum of their values
    less the metric's reference."""
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    sql = f"""
        SELECT metric_id, SUM(count), SUM(count * offset_mean) FROM {_rollups()}
        WHERE metric_id IN ({marks}) AND minute >= %s AND minute <= %s
        GROUP BY metric_id
    """  # noqa: S608
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, adapt(since), adapt(until)])
        return {m: (int(n), float(s)) for m, n, s in cursor.fetchall()}
