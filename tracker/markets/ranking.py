"""The rank snapshot: each metric's 24-hour standard deviation and rank among its kind,
computed once per refresh for a whole kind and stored in `MetricRank`.

A refresh at `now` covers the minutes from minute_floor(now - 24 h) to minute_floor(now), the
window `selectors.spreads_by_kind` reads. Each metric's row keeps the sums over the CLOSED
minutes of that window, minutes before minute_floor(now) - GRACE: the minute before the current
one stays open, so a record stamped just before the minute turned and committed just after is
not missed. A refresh

1. adds the rollups of the minutes that closed since the last refresh and subtracts those of
   the minutes that slid out of the window (one statement for the whole kind, a few rows per
   metric);
2. computes from scratch the sums of the metrics without a row (the first refresh, or after an
   ingest into a past minute dropped it: `ranks_invalidate`), or whose window is not one it can
   slide (the clock went back, or the window slid past it entirely), and a share of those last
   computed from scratch more than REBUILD_AGE ago, so floating-point drift stays bounded;
3. merges in the rollups of the open minutes (at most two per metric), read fresh and not kept;
4. ranks the kind and writes every metric's row, in upserts of WRITE_BATCH rows.

The sums are kept relative to a shift near the window's mean (the offsets of
`MinuteRollup.offset_mean` are relative to `Metric.reference`, which may lie far from today's
values), and the open minutes are merged with Chan's formula, so the deviation keeps the
precision of the values' moves.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from tracker.common.clock import as_utc

from .models import Metric, MetricRank, MinuteRollup
from .stats import Moments

RANK_WINDOW = timedelta(hours=24)
GRACE = timedelta(minutes=1)
REBUILD_AGE = timedelta(hours=1)
# Stale sums rebuilt per refresh: a 60th of the kind (at least REBUILD_MIN), so the rebuilds
# spread over the hour instead of all falling due in the same refresh.
REBUILD_SHARE = 60
REBUILD_MIN = 50
CHUNK = 2000  # SQLite limits the parameters of one statement
_LOCK_CLASS = 0x52414E4B  # "RANK": the first key of the PostgreSQL advisory locks taken here


@dataclass(frozen=True, slots=True)
class RankRefresh:
    """What one refresh of one kind did."""

    kind: str
    metrics: int
    ranked: int
    rebuilt: int


@dataclass(slots=True)
class _Sums:
    """Sums over closed minutes, of values minus the metric's reference minus `shift`."""

    window_start: datetime
    closed_until: datetime
    shift: float
    n: int
    s1: float
    s2: float
    rebuilt_at: datetime

    def moments(self) -> Moments:
        if self.n <= 0:
            return Moments()
        return Moments(
            self.n, self.shift + self.s1 / self.n, max(self.s2 - self.s1 * self.s1 / self.n, 0.0)
        )


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _kinds_lock(kinds: Iterable[str]) -> None:
    """Serialise refreshes and invalidations of the same kinds on PostgreSQL, until commit.

    Without it, a refresh that read a metric's sums before an invalidation committed would write
    them back after it. SQLite needs nothing: its writers already queue (BEGIN IMMEDIATE).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for kind in sorted(set(kinds)):  # one order everywhere: no deadlock
            key = zlib.crc32(kind.encode()) & 0x7FFFFFFF
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, key])


def _tables() -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    return (
        quote(MinuteRollup._meta.db_table),
        quote(Metric._meta.db_table),
        quote(MetricRank._meta.db_table),
    )


def _states_read(kind: str) -> dict[int, _Sums | None]:
    """Every metric of `kind`, with its stored sums (None without a row)."""
    _, metric, rank = _tables()
    sql = f"""
        SELECT m.id, s.window_start, s.closed_until, s.shift, s.n, s.s1, s.s2, s.rebuilt_at
        FROM {metric} m LEFT JOIN {rank} s ON s.metric_id = m.id
        WHERE m.kind = %s
    """  # noqa: S608
    states: dict[int, _Sums | None] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [kind])
        for metric_id, start, until, shift, n, s1, s2, rebuilt_at in cursor.fetchall():
            states[metric_id] = (
                None
                if start is None
                else _Sums(as_utc(start), as_utc(until), shift, n, s1, s2, as_utc(rebuilt_at))
            )
    return states


def _rebuild_choose(
    states: dict[int, _Sums | None], *, start: datetime, closed: datetime, now: datetime
) -> list[int]:
    """The metrics whose sums are computed from scratch in this refresh."""
    chosen = []
    stale: list[tuple[datetime, int]] = []
    for metric_id, sums in states.items():
        if (
            sums is None
            or sums.window_start > start
            or sums.closed_until > closed
            or sums.closed_until <= start
        ):
            chosen.append(metric_id)
        elif sums.rebuilt_at <= now - REBUILD_AGE:
            stale.append((sums.rebuilt_at, metric_id))
    stale.sort()
    share = max(REBUILD_MIN, math.ceil(len(states) / REBUILD_SHARE))
    return chosen + [metric_id for _, metric_id in stale[:share]]


def _sums_slide(
    kind: str, *, start: datetime, closed: datetime
) -> dict[int, tuple[int, float, float]]:
    """Per metric of `kind` with stored sums, (n, s1, s2) to add: the minutes that closed since
    its last refresh, minus those that slid out of the window. One statement."""
    rollup, _, rank = _tables()
    adapt = connection.ops.adapt_datetimefield_value
    d = "(r.offset_mean - s.shift)"
    sql = f"""
        SELECT metric_id, SUM(n), SUM(a), SUM(b) FROM (
            SELECT s.metric_id AS metric_id, r.count AS n, r.count * {d} AS a,
                   r.m2 + r.count * {d} * {d} AS b
            FROM {rank} s JOIN {rollup} r ON r.metric_id = s.metric_id
                AND r.minute >= s.closed_until AND r.minute < %s
            WHERE s.kind = %s
            UNION ALL
            SELECT s.metric_id, -r.count, -r.count * {d}, -(r.m2 + r.count * {d} * {d})
            FROM {rank} s JOIN {rollup} r ON r.metric_id = s.metric_id
                AND r.minute >= s.window_start AND r.minute < %s
            WHERE s.kind = %s
        ) d GROUP BY metric_id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(closed), kind, adapt(start), kind])
        return {m: (int(n), float(a), float(b)) for m, n, a, b in cursor.fetchall()}


def _sums_compute(
    metric_ids: Sequence[int], *, start: datetime, closed: datetime, now: datetime
) -> dict[int, _Sums]:
    """Sums over the closed minutes [start, closed) from scratch, relative to their mean."""
    rollup, _, _ = _tables()
    adapt = connection.ops.adapt_datetimefield_value
    computed = {metric_id: _Sums(start, closed, 0.0, 0, 0.0, 0.0, now) for metric_id in metric_ids}
    for first in range(0, len(metric_ids), CHUNK):
        chunk = list(metric_ids[first : first + CHUNK])
        marks = ", ".join(["%s"] * len(chunk))
        sql = f"""
            WITH w AS (
                SELECT metric_id, count AS n, offset_mean AS mean, m2 FROM {rollup}
                WHERE metric_id IN ({marks}) AND minute >= %s AND minute < %s
            ), t AS (
                SELECT metric_id, SUM(n) AS total, SUM(n * mean) / SUM(n) AS mu
                FROM w GROUP BY metric_id
            )
            SELECT w.metric_id, t.total, t.mu, SUM(w.n * (w.mean - t.mu)),
                   SUM(w.m2 + w.n * (w.mean - t.mu) * (w.mean - t.mu))
            FROM w JOIN t ON t.metric_id = w.metric_id
            GROUP BY w.metric_id, t.total, t.mu
        """  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [*chunk, adapt(start), adapt(closed)])
            for metric_id, total, mu, s1, s2 in cursor.fetchall():
                sums = computed[metric_id]
                sums.shift, sums.n, sums.s1, sums.s2 = float(mu), int(total), float(s1), float(s2)
    return computed


def _open_read(kind: str, *, closed: datetime, now: datetime) -> dict[int, list[Moments]]:
    """The rollups of the open minutes [closed, minute_floor(now)] per metric of `kind`."""
    rollup, metric, _ = _tables()
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"""
        SELECT r.metric_id, r.count, r.offset_mean, r.m2
        FROM {metric} m JOIN {rollup} r ON r.metric_id = m.id
            AND r.minute >= %s AND r.minute <= %s
        WHERE m.kind = %s
    """  # noqa: S608
    found: dict[int, list[Moments]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapt(closed), adapt(minute_floor(now)), kind])
        for metric_id, count, mean, m2 in cursor.fetchall():
            found[metric_id].append(Moments(int(count), float(mean), float(m2)))
    return found


def _ranks(stddevs: dict[int, float]) -> dict[int, int]:
    """1 + how many are larger: ties share the better position (1, 2, 2, 4)."""
    ascending = sorted(stddevs.values())
    return {m: len(ascending) - bisect.bisect_right(ascending, s) + 1 for m, s in stddevs.items()}


_COLUMNS = (
    "metric_id", "kind", "window_start", "closed_until", "shift", "n", "s1", "s2", "rebuilt_at",
    "count", "stddev", "rank", "rank_of", "computed_at",
)  # fmt: skip
_MOMENTS = {2, 3, 8, 13}  # the datetime columns
WRITE_BATCH = 500


def _rows_write(rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert or replace the rows, several hundred per statement (the ORM's bulk upsert builds
    a model per row and cost several times more)."""
    _, _, rank = _tables()
    quote = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    adapted: dict[datetime, Any] = {}
    columns = ", ".join(quote(c) for c in _COLUMNS)
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in _COLUMNS[1:])
    marks = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    batch: list[Any] = []
    pending = 0

    def flush() -> None:
        sql = (
            f"INSERT INTO {rank} ({columns}) VALUES {', '.join([marks] * pending)} "  # noqa: S608
            f"ON CONFLICT ({quote('metric_id')}) DO UPDATE SET {updates}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, batch)

    for row in rows:
        for i, value in enumerate(row):
            if i in _MOMENTS:
                if value not in adapted:
                    adapted[value] = adapt(value)
                value = adapted[value]
            batch.append(value)
        pending += 1
        if pending == WRITE_BATCH:
            flush()
            batch, pending = [], 0
    if pending:
        flush()


def kind_refresh(*, kind: str, now: datetime) -> RankRefresh:
    """Refresh the sums and ranks of every metric of `kind` as of `now`, in one transaction."""
    start = minute_floor(now - RANK_WINDOW)
    closed = minute_floor(now) - GRACE
    with transaction.atomic():
        _kinds_lock([kind])
        states = _states_read(kind)
        rebuild = _rebuild_choose(states, start=start, closed=closed, now=now)
        slid = _sums_slide(kind, start=start, closed=closed)
        sums: dict[int, _Sums] = {}
        for metric_id, state in states.items():
            if state is None:
                continue
            n, s1, s2 = slid.get(metric_id, (0, 0.0, 0.0))
            state.n, state.s1, state.s2 = state.n + n, state.s1 + s1, state.s2 + s2
            if state.n <= 0:  # what is left of subtracting everything is rounding
                state.n, state.s1, state.s2 = 0, 0.0, 0.0
            state.window_start, state.closed_until = start, closed
            sums[metric_id] = state
        sums.update(_sums_compute(rebuild, start=start, closed=closed, now=now))
        opened = _open_read(kind, closed=closed, now=now)

        window: dict[int, Moments] = {}
        for metric_id, state in sums.items():
            moments = state.moments()
            for minute in opened.get(metric_id, ()):
                moments = moments.merge(minute)
            window[metric_id] = moments
        stddevs = {
            m: math.sqrt(max(w.m2, 0.0) / w.count) for m, w in window.items() if w.count >= 2
        }
        ranks = _ranks(stddevs)
        _rows_write(
            (
                metric_id, kind, state.window_start, state.closed_until, state.shift, state.n,
                state.s1, state.s2, state.rebuilt_at, window[metric_id].count,
                stddevs.get(metric_id), ranks.get(metric_id), len(stddevs), now,
            )
            for metric_id, state in sums.items()
        )  # fmt: skip
    return RankRefresh(kind=kind, metrics=len(sums), ranked=len(stddevs), rebuilt=len(rebuild))


def ranks_invalidate(*, metric_ids: Sequence[int]) -> int:
    """Drop the stored sums of these metrics: the next refresh computes them from scratch.

    For records stored into minutes a refresh may already have summed. Runs in the caller's
    transaction when there is one. Returns how many rows were dropped.
    """
    dropped = 0
    with transaction.atomic():
        for first in range(0, len(metric_ids), CHUNK):
            rows = MetricRank.objects.filter(metric_id__in=metric_ids[first : first + CHUNK])
            kinds: list[Any] = list(rows.values_list("kind", flat=True).distinct())
            if kinds:
                _kinds_lock(kinds)
                dropped += rows.delete()[0]
    return dropped
