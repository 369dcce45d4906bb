"""Reads from the market store. Nothing in here writes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Model, QuerySet

from tracker.common.clock import as_utc

from .models import Exchange, Metric, MetricRank, MinuteRollup, Pair, PairStatus, Record
from .ranking import minute_floor


@dataclass(frozen=True, slots=True)
class Spread:
    """Population standard deviation of one metric's values over a window."""

    metric_id: int
    count: int
    stddev: float


@dataclass(frozen=True, slots=True)
class RankSnapshot:
    """Where one metric stood among the metrics of its kind when the rank was last refreshed
    (`ranked_at`, None if never); rank is None when unranked."""

    rank: int | None
    rank_of: int
    stddev: float | None
    count: int
    ranked_at: datetime | None


def metric_list() -> QuerySet[Metric]:
    return Metric.objects.select_related("pair__exchange").order_by("id")


# (id, pair symbol, kind, exchange name, active): one entry of the metrics list.
MetricRow = tuple[int, str, str, str, bool]


def metrics_page(
    *,
    exchange: str | None = None,
    symbol: str | None = None,
    kind: str | None = None,
    after: int | None = None,
    limit: int,
) -> tuple[list[MetricRow], int | None]:
    """Up to `limit` metrics with an id above `after`, by id, optionally only those of one
    exchange, pair symbol or kind. Returns them and, if more follow, the id the next page
    continues after.

    Keyset pagination on the primary key: a page is stable while metrics are added (they get
    higher ids) or removed. Plain rows, not model instances: a page may hold 10,000.
    """
    found = metric_list()
    if exchange is not None:
        found = found.filter(pair__exchange__name=exchange)
    if symbol is not None:
        found = found.filter(pair__symbol=symbol)
    if kind is not None:
        found = found.filter(kind=kind)
    if after is not None:
        found = found.filter(id__gt=after)
    rows = list(
        found.values_list("id", "pair__symbol", "kind", "pair__exchange__name", "pair__status")[
            : limit + 1
        ]
    )
    page = [
        (i, symbol, kind, name, status == PairStatus.ACTIVE)
        for i, symbol, kind, name, status in rows[:limit]
    ]
    return page, (page[-1][0] if len(rows) > limit else None)


BIGINT_MAX = 2**63 - 1  # the largest id a BigAutoField holds


def _table(model: type[Model]) -> str:
    # Quoted as both supported databases quote identifiers (SQL's double quotes), without the
    # look-ups of the connection's own quote_name on every request.
    return f'"{model._meta.db_table}"'


def metric_get(*, metric_id: int) -> Metric | None:
    """One metric with its pair and exchange loaded, in one query.

    Every detail and history request starts here, so it is plain SQL: compiling the ORM's
    query (joins, ordering) cost several times what running it did. The instances are built as
    the ORM builds them (`from_db`); fields not read here load on first access.
    """
    if not 0 < metric_id <= BIGINT_MAX:  # no such id, and the driver would refuse the number
        return None
    metric, pair, exchange = (_table(model) for model in (Metric, Pair, Exchange))
    sql = f"""
        SELECT m.id, m.pair_id, m.kind, m.reference, m.version, m.changed_at,
               p.exchange_id, p.symbol, p.status, e.name
        FROM {metric} m JOIN {pair} p ON p.id = m.pair_id JOIN {exchange} e ON e.id = p.exchange_id
        WHERE m.id = %s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [metric_id])
        row = cursor.fetchone()
    if row is None:
        return None
    mid, pair_id, kind, reference, version, changed_at, exchange_id, symbol, status, name = row
    alias = connection.alias
    found = Metric.from_db(
        alias,
        ["id", "pair_id", "kind", "reference", "version", "changed_at"],
        [mid, pair_id, kind, reference, version, as_utc(changed_at)],
    )
    found.pair = Pair.from_db(
        alias, ["id", "exchange_id", "symbol", "status"], [pair_id, exchange_id, symbol, status]
    )
    found.pair.exchange = Exchange.from_db(alias, ["id", "name"], [exchange_id, name])
    return found


def metric_ids_by_symbol(*, exchange_id: int) -> dict[tuple[str, str], int]:
    """{(symbol, kind): metric id} for the active pairs of one exchange."""
    rows = Metric.objects.filter(
        pair__exchange_id=exchange_id, pair__status=PairStatus.ACTIVE
    ).values_list("pair__symbol", "kind", "id")
    return {(symbol, kind): metric_id for symbol, kind, metric_id in rows}


def pair_symbols_active(*, exchange_id: int) -> list[str]:
    return list(
        Pair.objects.filter(exchange_id=exchange_id, status=PairStatus.ACTIVE)
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )


def spreads_by_kind(*, kind: str, since: datetime, until: datetime) -> list[Spread]:
    """Standard deviations of every metric of `kind` with at least two records in the window,
    computed from scratch: what the rank snapshot (`ranking`) keeps incrementally.

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


def metric_rank(*, metric: Metric) -> RankSnapshot:
    """The stored rank of `metric` by 24-hour standard deviation, largest first (written by
    `services.ranks_refresh`): one row, whatever the number of metrics.

    Ties share the better position (1, 2, 2, 4). Metrics with fewer than two records in the
    window are not ranked. Before the first refresh: unranked among 0, `ranked_at` None.
    """
    sql = (
        "SELECT rank, rank_of, stddev, count, computed_at "  # noqa: S608
        f"FROM {_table(MetricRank)} WHERE metric_id = %s"
    )
    with connection.cursor() as cursor:  # plain SQL, as in metric_get: it is every detail's
        cursor.execute(sql, [metric.id])
        row = cursor.fetchone()
    if row is None:
        return RankSnapshot(rank=None, rank_of=0, stddev=None, count=0, ranked_at=None)
    rank, rank_of, stddev, count, ranked_at = row
    return RankSnapshot(
        rank=rank, rank_of=rank_of, stddev=stddev, count=count, ranked_at=as_utc(ranked_at)
    )


def exchange_list() -> QuerySet[Exchange]:
    return Exchange.objects.order_by("name")


def pair_list() -> QuerySet[Pair]:
    return (
        Pair.objects.select_related("exchange")
        .prefetch_related("metrics")
        .order_by("exchange__name", "symbol")
    )


@dataclass(frozen=True, slots=True)
class Bucket:
    """Statistics of one metric over one time bucket, merged from minute rollups."""

    start: datetime
    open: float
    high: float
    low: float
    close: float
    average: float
    count: int


def _iso_sql() -> str:
    """SQL rendering a record's timestamp as ISO 8601 UTC with Z, in the database."""
    if connection.vendor == "postgresql":  # microseconds only when there are any, as Python
        utc = "(timestamp AT TIME ZONE 'UTC')"
        return (
            f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN to_char({utc}, 'US') """
            f"""= '000000' THEN '' ELSE '.' || to_char({utc}, 'US') END || 'Z'"""
        )
    return "replace(timestamp, ' ', 'T') || 'Z'"  # stored as UTC text, 'YYYY-MM-DD HH:MM:SS[.f]'


def records_page(
    *, metric_id: int, since: datetime, until: datetime, after: datetime | None, limit: int
) -> tuple[list[tuple[str, float]], datetime | None]:
    """Up to `limit` records in (max(since, after), until], oldest first, as (ISO time, value).

    Keyset pagination on the primary key, so a page is stable while new records arrive.
    Returns the page and, if more follow, the timestamp the next page continues after.
    Timestamps are formatted by the database: a day of one-second records is 86,400 of them.
    """
    start = max(since, after) if after is not None else since
    record = connection.ops.quote_name(Record._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        f"SELECT {_iso_sql()}, value FROM {record} "  # noqa: S608
        "WHERE metric_id = %s AND timestamp > %s AND timestamp <= %s ORDER BY timestamp LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [metric_id, adapt(start), adapt(until), limit + 1])
        rows = cursor.fetchall()
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, datetime.fromisoformat(page[-1][0])


def records_count(*, metric_id: int, since: datetime, until: datetime, cap: int) -> int | None:
    """Records in (since, until], or None when there are more than `cap` (counting stops there)."""
    window = Record.objects.filter(metric_id=metric_id, timestamp__gt=since, timestamp__lte=until)
    counted = window.order_by().values_list("timestamp", flat=True)[: cap + 1].count()
    return counted if counted <= cap else None


def _bucket_sql(width: int) -> str:
    if connection.vendor == "postgresql":
        return f"(CAST(EXTRACT(EPOCH FROM minute) AS BIGINT) / {width}) * {width}"
    return f"(CAST(strftime('%%s', minute) AS INTEGER) / {width}) * {width}"


# Index probes one bucket page may make to skip over the gaps between buckets with data.
BUCKET_JUMPS = 64


def _bucket_floor(moment: datetime, width: int) -> datetime:
    return datetime.fromtimestamp(int(moment.timestamp()) // width * width, UTC)


def _minute_next(*, metric_id: int, start: datetime, until: datetime) -> datetime | None:
    """The first minute in [start, until) with a rollup: one probe of the primary key."""
    return (
        MinuteRollup.objects.filter(metric_id=metric_id, minute__gte=start, minute__lt=until)
        .order_by("minute")
        .values_list("minute", flat=True)
        .first()
    )


def _buckets_read(*, metric: Metric, first: datetime, end: datetime, width: int) -> list[Bucket]:
    rollup = connection.ops.quote_name(MinuteRollup._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    sql = f"""
        WITH r AS (
            SELECT {_bucket_sql(width)} AS b, minute, count, offset_mean, low, high, first, last
            FROM {rollup} WHERE metric_id = %s AND minute >= %s AND minute < %s
        ), g AS (
            SELECT b, MIN(minute) AS m0, MAX(minute) AS m1, SUM(count) AS n,
                   SUM(count * offset_mean) AS s, MIN(low) AS lo, MAX(high) AS hi
            FROM r GROUP BY b
        )
        SELECT g.b, o.first, g.hi, g.lo, c.last, g.s / g.n, g.n
        FROM g JOIN r o ON o.minute = g.m0 JOIN r c ON c.minute = g.m1
        ORDER BY g.b
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [metric.id, adapt(first), adapt(end)])
        rows = cursor.fetchall()
    reference = metric.reference or 0.0
    return [
        Bucket(
            start=datetime.fromtimestamp(int(b), UTC),
            open=o,
            high=hi,
            low=lo,
            close=c,
            average=reference + mean,
            count=int(n),
        )
        for b, o, hi, lo, c, mean, n in rows
    ]


def buckets_page(
    *, metric: Metric, start: datetime, until: datetime, width: int, limit: int
) -> tuple[list[Bucket], datetime | None]:
    """Up to `limit` buckets of `width` seconds from `start` (aligned down) up to `until`.

    Returns the buckets, all with data, and where the next page starts (None if last). Each
    round jumps to the next minute that has a rollup, then reads at most the buckets still
    wanted from there, so a page holds `limit` buckets however sparse the data, and reads no
    more rollups than `limit + 1` buckets hold. After BUCKET_JUMPS rounds over very sparse data
    the page ends early, with what it found; it is empty only when the rest of the window is.
    """
    cursor = _bucket_floor(start, width)
    buckets: list[Bucket] = []
    for _ in range(BUCKET_JUMPS):
        found = _minute_next(metric_id=metric.id, start=cursor, until=until)
        if found is None:
            return buckets, None
        first = _bucket_floor(found, width)
        span = timedelta(seconds=width * (limit + 1 - len(buckets)))
        end = until if until - first <= span else first + span  # never past until: no overflow
        buckets += _buckets_read(metric=metric, first=first, end=end, width=width)
        if len(buckets) > limit:
            return buckets[:limit], buckets[limit].start
        if end >= until:
            return buckets, None
        cursor = end
    return buckets, cursor


@dataclass(frozen=True, slots=True)
class Version:
    """What an answer about stored data is valid for: a key that changes whenever the data
    does, and when the data last changed (None: never)."""

    key: str
    changed_at: datetime | None


def metric_version_get(*, metric_id: int) -> Version | None:
    """The version of one metric's history by id, None if there is no such metric: one small
    query, all a conditional request or a cached answer needs before the metric itself."""
    if not 0 < metric_id <= BIGINT_MAX:
        return None
    sql = f"SELECT version, changed_at FROM {_table(Metric)} WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [metric_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return Version(key=f"metric {metric_id} v{row[0]}", changed_at=as_utc(row[1]))


def metric_rank_version_get(*, metric_id: int) -> Version | None:
    """The version of a metric with its rank, None if there is no such metric: the metric's own
    version and everything its rank snapshot says, so a refresh that moved this metric's
    standing (or just its time) changes it, and one that did not leaves it. One query."""
    if not 0 < metric_id <= BIGINT_MAX:
        return None
    sql = f"""
        SELECT m.version, m.changed_at, r.rank, r.rank_of, r.stddev, r.count, r.computed_at
        FROM {_table(Metric)} m LEFT JOIN {_table(MetricRank)} r ON r.metric_id = m.id
        WHERE m.id = %s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [metric_id])
        row = cursor.fetchone()
    if row is None:
        return None
    version, changed_at, rank, rank_of, stddev, count, ranked_at = row
    changed_at, ranked_at = as_utc(changed_at), as_utc(ranked_at)
    stamp = ranked_at.isoformat() if ranked_at is not None else "-"
    changed = [t for t in (changed_at, ranked_at) if t is not None]
    return Version(
        key=f"metric {metric_id} v{version} rank {rank} of {rank_of or 0} sd {stddev!r} "
        f"n{count or 0} at {stamp}",
        changed_at=max(changed) if changed else None,
    )


def _time_sum_sql(column: str) -> str:
    """SQL for the sum of a time column over the rows, as a number that moves with any of them:
    on PostgreSQL a sum of intervals since the epoch (exact, and cheaper than EXTRACT), on
    SQLite whole milliseconds since the epoch. NULLs count for nothing."""
    if connection.vendor == "postgresql":
        return f"SUM({column} - TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    return f"SUM(CAST(ROUND((julianday({column}) - 2440587.5) * 86400000) AS INTEGER))"


def metric_list_version() -> Version:
    """The version of the metrics list: a key that changes when a metric is added or removed,
    or a pair's status (so its metrics' `active`) changes, and not when records are stored.

    Every metric's own version moves with each ingest, so their sum would empty the list's
    cache at every tick. Instead: the metrics' count and highest id (ids only grow, so an
    addition moves the highest and a removal the count), and over the pairs, the count and
    the id sum of the active ones and the sum of every status change time (each status change
    stamps its pair, so the sum moves whatever order concurrent changes commit in, where the
    latest time alone would not). Symbols, kinds and exchange names are not changed by the
    tracker. One query, two scans of narrow tables: 5 to 6 ms at 50,000 metrics and 10,000
    pairs on SQLite and PostgreSQL alike.

    No change time: a removal leaves none behind, so there is no true Last-Modified.
    """
    metric = connection.ops.quote_name(Metric._meta.db_table)
    pair = connection.ops.quote_name(Pair._meta.db_table)
    sql = f"""
        SELECT m.n, m.top, p.active, p.ids, p.stamps FROM
            (SELECT COUNT(*) AS n, MAX(id) AS top FROM {metric}) m,
            (SELECT SUM(CASE WHEN status = %s THEN 1 ELSE 0 END) AS active,
                    SUM(CASE WHEN status = %s THEN id ELSE 0 END) AS ids,
                    {_time_sum_sql("status_changed_at")} AS stamps
             FROM {pair}) p
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [PairStatus.ACTIVE, PairStatus.ACTIVE])
        n, top, active, ids, stamps = cursor.fetchone()
    return Version(
        key=f"metrics n{n} top{top or 0} active{active or 0} ids{ids or 0} at{stamps or 0}",
        changed_at=None,
    )
