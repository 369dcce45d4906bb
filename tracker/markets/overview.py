"""The overview of every tracked metric: where it stands now and how it moved over 24 hours.

One read for the dashboard's front page, in three queries whatever the number of metrics: the
catalog with each metric's rank snapshot; each metric's latest record and its first record of
the window (two probes of the records' primary key per metric); and a sparkline per metric,
the close of each UTC hour, from the minute rollups.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from tracker.common.clock import as_utc

from .models import Exchange, Metric, MinuteRollup, Record

WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class OverviewRow:
    """One metric on the overview. Values are None where nothing was recorded yet."""

    metric_id: int
    exchange: str
    exchange_status: str  # ExchangeStatus: ok, failing, stale
    exchange_interval: float
    symbol: str
    kind: str
    pair_status: str  # PairStatus: active, paused, delisted
    last_value: float | None
    last_at: datetime | None
    open_value: float | None  # the first value of the 24-hour window
    sparkline: tuple[float, ...]
    rank: int | None
    rank_of: int
    stddev: float | None

    @property
    def change(self) -> float | None:
        """The move over the window in percent of its first value."""
        if self.last_value is None or not self.open_value:
            return None
        return (self.last_value - self.open_value) / abs(self.open_value) * 100.0


def overview_read(
    *,
    now: datetime,
    exchange: str | None = None,
    kind: str | None = None,
    text: str | None = None,
    limit: int,
) -> tuple[list[OverviewRow], int]:
    """Up to `limit` metrics by exchange, pair and kind, optionally only those of one exchange
    or kind or whose pair symbol contains `text`, and how many match in all."""
    catalog = _catalog(exchange=exchange, kind=kind, text=text)
    total = len(catalog)
    catalog = catalog[:limit]
    ids = [row[0] for row in catalog]
    since = now - WINDOW
    latest = metrics_latest(ids=ids, since=since)
    sparks = _sparklines(ids, since=since)
    exchanges = {e.id: e for e in Exchange.objects.filter(id__in={row[1] for row in catalog})}
    rows = []
    for metric_id, exchange_id, symbol, kind_, pair_status, rank, rank_of, stddev in catalog:
        last_at, last_value, open_value = latest.get(metric_id, (None, None, None))
        site = exchanges[exchange_id]
        rows.append(
            OverviewRow(
                metric_id=metric_id,
                exchange=site.name,
                exchange_status=site.status_at(now),
                exchange_interval=site.interval,
                symbol=symbol,
                kind=kind_,
                pair_status=pair_status,
                last_value=last_value,
                last_at=last_at,
                open_value=open_value,
                sparkline=tuple(sparks.get(metric_id, ())),
                rank=rank,
                rank_of=rank_of or 0,
                stddev=stddev,
            )
        )
    return rows, total


def _catalog(
    *, exchange: str | None, kind: str | None, text: str | None
) -> list[tuple[int, int, str, str, str, int | None, int | None, float | None]]:
    found = Metric.objects.order_by("pair__exchange__name", "pair__symbol", "kind")
    if exchange is not None:
        found = found.filter(pair__exchange__name=exchange)
    if kind is not None:
        found = found.filter(kind=kind)
    if text is not None:
        found = found.filter(pair__symbol__icontains=text)
    return list(
        found.values_list(
            "id",
            "pair__exchange_id",
            "pair__symbol",
            "kind",
            "pair__status",
            "rank_snapshot__rank",
            "rank_snapshot__rank_of",
            "rank_snapshot__stddev",
        )
    )


def metrics_latest(
    *, ids: list[int], since: datetime
) -> dict[int, tuple[datetime | None, float | None, float | None]]:
    """(time, value) of each metric's latest record, and its first value at or after `since`."""
    if not ids:
        return {}
    record = f'"{Record._meta.db_table}"'
    metric = f'"{Metric._meta.db_table}"'
    marks = ", ".join(["%s"] * len(ids))
    sql = f"""
        SELECT m.id,
            (SELECT timestamp FROM {record} r WHERE r.metric_id = m.id
             ORDER BY timestamp DESC LIMIT 1),
            (SELECT value FROM {record} r WHERE r.metric_id = m.id
             ORDER BY timestamp DESC LIMIT 1),
            (SELECT value FROM {record} r WHERE r.metric_id = m.id AND r.timestamp >= %s
             ORDER BY timestamp LIMIT 1)
        FROM {metric} m WHERE m.id IN ({marks})
    """  # noqa: S608
    since_value = connection.ops.adapt_datetimefield_value(since)
    with connection.cursor() as cursor:
        cursor.execute(sql, [since_value, *ids])
        rows = cursor.fetchall()
    return {metric_id: (_moment(at), last, first) for metric_id, at, last, first in rows}


def _moment(value: datetime | str | None) -> datetime | None:
    # SQLite hands a correlated subquery's timestamp back as text, PostgreSQL as a datetime.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


def _sparklines(ids: list[int], *, since: datetime) -> dict[int, list[float]]:
    """The last value of each hour of the window, per metric, oldest first.

    One probe of the rollups' primary key per metric and hour (the last minute with data in
    that hour), rather than a scan of the window's minutes: 24 probes where a day of minute
    rollups is 1,440 rows, per metric.
    """
    if not ids:
        return {}
    rollup = f'"{MinuteRollup._meta.db_table}"'
    metric = f'"{Metric._meta.db_table}"'
    adapt = connection.ops.adapt_datetimefield_value
    first = since.replace(minute=0, second=0, microsecond=0)
    hours = [first + timedelta(hours=h) for h in range(int(WINDOW / timedelta(hours=1)) + 1)]
    spans = " UNION ALL ".join(["SELECT %s AS h, %s AS s, %s AS e"] * len(hours))
    bounds = [
        value
        for h, start in enumerate(hours)
        for value in (h, adapt(max(start, since)), adapt(start + timedelta(hours=1)))
    ]
    marks = ", ".join(["%s"] * len(ids))
    sql = f"""
        WITH spans AS ({spans})
        SELECT m.id, spans.h,
            (SELECT r.last FROM {rollup} r
             WHERE r.metric_id = m.id AND r.minute >= spans.s AND r.minute < spans.e
             ORDER BY r.minute DESC LIMIT 1) AS close
        FROM {metric} m CROSS JOIN spans
        WHERE m.id IN ({marks})
        ORDER BY m.id, spans.h
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*bounds, *ids])
        rows = cursor.fetchall()
    points: dict[int, list[float]] = defaultdict(list)
    for metric_id, _, close in rows:
        if close is not None:
            points[metric_id].append(close)
    return points
