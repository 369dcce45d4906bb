"""Reads from the market store. Nothing in here writes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import QuerySet, Sum

from .models import Exchange, Metric, MinuteRollup, Pair, Record

RANK_WINDOW = timedelta(hours=24)
RECORDS_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Spread:
    """Population standard deviation of one metric's values over a window."""

    metric_id: int
    count: int
    stddev: float


@dataclass(frozen=True, slots=True)
class MetricRank:
    """Where one metric stands among the metrics of its kind; rank is None when unranked."""

    rank: int | None
    rank_of: int
    stddev: float | None
    count: int


def metric_list() -> QuerySet[Metric]:
    return Metric.objects.select_related("pair__exchange").order_by("id")


def metric_get(*, metric_id: int) -> Metric | None:
    return metric_list().filter(id=metric_id).first()


def metric_ids_by_symbol(*, exchange_id: int) -> dict[tuple[str, str], int]:
    """{(symbol, kind): metric id} for the active pairs of one exchange."""
    rows = Metric.objects.filter(pair__exchange_id=exchange_id, pair__active=True).values_list(
        "pair__symbol", "kind", "id"
    )
    return {(symbol, kind): metric_id for symbol, kind, metric_id in rows}


def pair_symbols_active(*, exchange_id: int) -> list[str]:
    return list(
        Pair.objects.filter(exchange_id=exchange_id, active=True)
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def spreads_by_kind(*, kind: str, since: datetime, until: datetime) -> list[Spread]:
    """Standard deviations of every metric of `kind` with at least two records in the window.

    Read from the minute rollups, never the raw records, so the cost depends on the window's
    length and not on how often the metrics were sampled. The window is whole minutes: from
    the minute `since` falls in to the minute `until` falls in. Minute statistics are merged
    with the between-minute term of Chan's formula, plus its compensation term.
    """
    rollup = connection.ops.quote_name(MinuteRollup._meta.db_table)
    metric = connection.ops.quote_name(Metric._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"""
        WITH w AS (
            SELECT r.metric_id, r.count AS n, r.offset_mean AS mean, r.m2
            FROM {rollup} r JOIN {metric} m ON m.id = r.metric_id
            WHERE m.kind = %s AND r.minute >= %s AND r.minute <= %s
        ), t AS (
            SELECT metric_id, SUM(n) AS total, SUM(n * mean) / SUM(n) AS mu
            FROM w GROUP BY metric_id HAVING SUM(n) >= 2
        )
        SELECT w.metric_id, t.total, SUM(w.m2),
               SUM(w.n * (w.mean - t.mu) * (w.mean - t.mu)), SUM(w.n * (w.mean - t.mu))
        FROM w JOIN t ON t.metric_id = w.metric_id
        GROUP BY w.metric_id, t.total
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [kind, adapt(minute_floor(since)), adapt(minute_floor(until))])
        rows = cursor.fetchall()
    spreads = []
    for metric_id, count, within, between, drift in rows:
        m2 = within + max(between - drift * drift / count, 0.0)
        spreads.append(Spread(metric_id=metric_id, count=int(count), stddev=math.sqrt(m2 / count)))
    return spreads


def metric_rank(*, metric: Metric, now: datetime) -> MetricRank:
    """1-based position of `metric` among its kind, by 24-hour standard deviation, largest first.

    Ties share the better position (1, 2, 2, 4). Metrics with fewer than two records in the
    window are not ranked.
    """
    spreads = spreads_by_kind(kind=metric.kind, since=now - RANK_WINDOW, until=now)
    own = next((s for s in spreads if s.metric_id == metric.id), None)
    if own is None:
        counted = MinuteRollup.objects.filter(
            metric=metric, minute__gte=minute_floor(now - RANK_WINDOW), minute__lte=now
        ).aggregate(n=Sum("count"))["n"]
        return MetricRank(rank=None, rank_of=len(spreads), stddev=None, count=counted or 0)
    larger = sum(1 for s in spreads if s.stddev > own.stddev)
    return MetricRank(rank=larger + 1, rank_of=len(spreads), stddev=own.stddev, count=own.count)


def records_window(*, metric_id: int, now: datetime) -> list[tuple[datetime, float]]:
    """The metric's records of the last 24 hours, oldest first."""
    return list(
        Record.objects.filter(
            metric_id=metric_id, timestamp__gt=now - RECORDS_WINDOW, timestamp__lte=now
        )
        .order_by("timestamp")
        .values_list("timestamp", "value")
    )


def exchange_list() -> QuerySet[Exchange]:
    return Exchange.objects.order_by("name")


def pair_list() -> QuerySet[Pair]:
    return Pair.objects.select_related("exchange").order_by("exchange__name", "symbol")
