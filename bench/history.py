"""History at scale: API latency over a week of dense data, against plain SQL on raw records.

Builds a scratch SQLite database of `--metrics` metrics sampled every `--step` seconds for
`--days` days (defaults: 100 x 7 days x 10 s, about 6 million records) through the project's own
write path, then times, p50 and p95 over `--runs` runs each:

- raw 24 h of one metric, 24 h at 5m, 30 d at auto, the rank of all price metrics: each as an
  uncached API request (Django's test client, full stack) beside a plain SQL query over the raw
  records that computes the same numbers;
- the rank at 60 s sampling against 1 s sampling (cost must not follow the sampling rate);
- a records request served from the cache against the same request computed;
- the rank snapshot at 100, 1,000 and 10,000 pairs (`--rank-pairs`): 24 hours of one-minute
  rollups of each pair's price written straight into the rollup table, then the first refresh
  (from scratch), a refresh after each one-minute tick (one new rollup per metric), one with
  its share of hourly rebuilds, against the from-scratch SQL every rank request ran before
  (`spreads_by_kind`), and an uncached metric detail request at each size;
- the metrics list at `--list-pairs` pairs (five metrics each): its first page computed and
  served from the cache, and every page followed to the end, against plain SQL reading the same
  rows.

    .venv/bin/python bench/history.py [--metrics 100] [--days 7] [--step 10] [--runs 15]
    .venv/bin/python bench/history.py --only rank [--rank-pairs 100,1000,10000]
    .venv/bin/python bench/history.py --only list [--list-pairs 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(database: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["TRACKER_VAR_DIR"] = str(database.parent)
    os.environ["TRACKER_ENV_FILE"] = "/dev/null"
    os.environ["TRACKER_THROTTLE_ANON"] = "1000000/min"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(
    *, metrics: int, days: float, step: int, end: datetime, kind_split: bool = True
) -> list[int]:
    """Metrics (half prices, half volumes) with a random-walk value every `step` seconds."""
    import random

    from tracker.markets import services

    exchange = services.exchange_get_or_create(name=f"bench-{step}")
    pairs = services.pairs_create(
        exchange=exchange, symbols=[f"B{step}X{i}/USD" for i in range((metrics + 1) // 2)]
    )
    ids = [m.id for p in pairs for m in p.metrics.order_by("kind")][:metrics]
    rng = random.Random(step)
    levels = {m: rng.uniform(0.1, 50_000) for m in ids}
    ticks = int(days * 86400 / step)
    start = end - timedelta(seconds=step * (ticks - 1))
    per_batch = max(1, 40_000 // len(ids))
    for first in range(0, ticks, per_batch):
        samples = []
        for t in range(first, min(ticks, first + per_batch)):
            moment = start + timedelta(seconds=step * t)
            for m in ids:
                levels[m] *= 1 + rng.gauss(0, 0.0005)
                samples.append(services.Sample(m, moment, levels[m]))
        services.records_ingest(samples=samples)
    return ids


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    fn()  # warm up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def row(name: str, ours: tuple[float, float], base: tuple[float, float]) -> str:
    return (
        f"  {name:<26} {ours[0]:>9.2f} {ours[1]:>9.2f}   {base[0]:>9.2f} {base[1]:>9.2f}"
        f"   {base[0] / ours[0]:>7.2f}x"
    )


def rank_raw_sql(table: str) -> str:
    """The population stddev of every price metric over a window, two passes over raw records."""
    return (
        f"WITH w AS (SELECT r.metric_id, r.value FROM {table} r JOIN markets_metric m "
        "ON m.id = r.metric_id WHERE m.kind = 'price' AND r.timestamp > %s AND r.timestamp <= %s), "
        "s AS (SELECT metric_id, AVG(value) AS mean FROM w GROUP BY metric_id) "
        "SELECT w.metric_id, SUM((w.value - s.mean) * (w.value - s.mean)) / COUNT(*) "
        "FROM w JOIN s ON s.metric_id = w.metric_id GROUP BY w.metric_id"
    )


def empty() -> None:
    from django.db import connection

    from tracker.markets.models import Exchange, MinuteRollup, Record

    with connection.cursor() as cursor:  # faster than the ORM's per-row cascade
        for model in (Record, MinuteRollup):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    Exchange.objects.all().delete()


def rank_rate(*, end: datetime, runs: int, metrics: int = 20) -> None:
    """The rank's cost must follow the window, not the sampling rate: 60 s against 1 s."""
    from django.db import connection

    from tracker.markets.models import Record
    from tracker.markets.selectors import spreads_by_kind

    since = end - timedelta(hours=24)
    adapt = connection.ops.adapt_datetimefield_value
    table = Record._meta.db_table
    raw = rank_raw_sql(table)

    def raw_rank() -> Any:
        with connection.cursor() as cursor:
            cursor.execute(raw, [adapt(since), adapt(end)])
            return cursor.fetchall()

    results = {}
    for step in (60, 1):
        empty()
        build(metrics=metrics, days=1, step=step, end=end)
        results[step] = (
            timed(lambda: spreads_by_kind(kind="price", since=since, until=end), runs),
            timed(raw_rank, max(3, runs // 3)),
        )
    empty()
    print(f"rank over 24 h of {metrics} metrics, by sampling interval (ms)")
    print(f"  {'':<26} {'rollups p50':>12} {'raw SQL p50':>12}")
    for step, (ours, base) in results.items():
        print(f"  sampled every {step:>2} s        {ours[0]:>12.2f} {base[0]:>12.2f}")
    ratio = results[1][0][0] / results[60][0][0]
    raw_ratio = results[1][1][0] / results[60][1][0]
    print(f"  1 s / 60 s                 {ratio:>12.2f} {raw_ratio:>12.2f}   (target < 1.5)\n")


def rollups_fill(metric_ids: list[int], *, first: datetime, minutes: int, seed: int) -> int:
    """One rollup per metric and minute from `first`, written straight into the table (six
    records a minute of a random walk around the metric's reference), metric by metric so the
    primary key grows in order. Returns the rows written."""
    import random

    from django.db import connection, transaction

    from tracker.markets.models import MinuteRollup

    rng = random.Random(seed)
    adapt = connection.ops.adapt_datetimefield_value
    stamps = [adapt(first + timedelta(minutes=i)) for i in range(minutes)]
    table = connection.ops.quote_name(MinuteRollup._meta.db_table)
    sql = (
        f"INSERT INTO {table} (metric_id, minute, count, offset_mean, m2, low, high, first, "
        "first_at, last, last_at) VALUES (%s, %s, 6, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for metric_id in metric_ids:
            level, scale = 0.0, rng.uniform(0.01, 5.0)
            rows = []
            for stamp in stamps:
                level += rng.gauss(0, scale)
                m2 = 6 * (scale * rng.uniform(0.1, 1.0)) ** 2
                rows.append((metric_id, stamp, level, m2, level, level, level, stamp, level, stamp))
            cursor.executemany(sql, rows)
            written += len(rows)
    return written


def rank_snapshot(*, sizes: list[int], end: datetime, runs: int) -> None:
    """The rank snapshot's refresh after a tick, and the detail request, at several sizes."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from tracker.markets import ranking, services
    from tracker.markets.models import Metric, MetricKind
    from tracker.markets.selectors import spreads_by_kind

    client = Client()
    now = end.replace(second=5, microsecond=0)  # a tick five seconds into a minute
    start = ranking.minute_floor(now - ranking.RANK_WINDOW)
    results = []
    for pairs in sizes:
        empty()
        exchange = services.exchange_get_or_create(name=f"rank-{pairs}")
        made = services.pairs_create(exchange=exchange, symbols=[f"R{i}/USD" for i in range(pairs)])
        prices = list(
            Metric.objects.filter(pair__in=made, kind=MetricKind.PRICE).values_list("id", flat=True)
        )
        Metric.objects.filter(id__in=prices).update(reference=100.0)
        # The window, one minute before it (slides out at the first tick) and the current one.
        began = time.perf_counter()
        rows = rollups_fill(prices, first=start - timedelta(minutes=1), minutes=1442, seed=pairs)
        filled = time.perf_counter() - began
        tick = now - timedelta(minutes=1)

        began = time.perf_counter()
        baseline = spreads_by_kind(kind="price", since=tick - ranking.RANK_WINDOW, until=tick)
        scratch_sql = time.perf_counter() - began
        began = time.perf_counter()
        services.ranks_refresh(kinds=["price"], now=tick)
        first_refresh = time.perf_counter() - began
        assert len(baseline) == len(prices)

        ticks = []
        for i in range(runs):  # each tick: one new minute per metric, then the refresh
            tick += timedelta(minutes=1)
            rollups_fill(prices, first=ranking.minute_floor(tick) + timedelta(minutes=1),
                         minutes=1, seed=i)  # fmt: skip
            began = time.perf_counter()
            services.ranks_refresh(kinds=["price"], now=tick)
            ticks.append((time.perf_counter() - began) * 1000)
        ticks.sort()
        # An hour on, the sums computed from scratch at the start are due again: a share of
        # them (a 60th of the kind) is rebuilt in this refresh, the rest in the next ones.
        began = time.perf_counter()
        (rebuilding,) = services.ranks_refresh(
            kinds=["price"], now=tick + ranking.REBUILD_AGE + timedelta(minutes=1)
        )
        with_rebuilds = time.perf_counter() - began

        path = f"/api/v1/metrics/{prices[len(prices) // 2]}"

        def detail(path: str = path) -> Any:
            cache.clear()
            response = client.get(path)
            assert response.status_code == 200, response.content[:200]
            return response

        queries: list[str] = []

        def counting(execute: Any, sql: str, *args: Any, queries: list[str] = queries) -> Any:
            queries.append(sql)
            return execute(sql, *args)

        with connection.execute_wrapper(counting):
            detail()
        results.append(
            (pairs, rows, scratch_sql * 1000, first_refresh * 1000,
             statistics.median(ticks), ticks[min(len(ticks) - 1, round(0.95 * (len(ticks) - 1)))],
             with_rebuilds * 1000, rebuilding.rebuilt, timed(detail, runs)[0], len(queries), filled)
        )  # fmt: skip
    empty()
    print("rank snapshot: 24 h of one-minute rollups per pair's price (ms)")
    print(
        f"  {'pairs':>6} {'rollups':>11} {'scratch SQL':>12} {'1st refresh':>12} "
        f"{'tick p50':>9} {'tick p95':>9} {'+rebuilds':>10} {'detail p50':>11} {'queries':>8}"
    )
    for pairs, rows, sql, first, p50, p95, rebuild, rebuilt, det, count, _ in results:
        print(
            f"  {pairs:>6,} {rows:>11,} {sql:>12.1f} {first:>12.1f} {p50:>9.1f} {p95:>9.1f} "
            f"{rebuild:>10.1f} {det:>11.2f} {count:>8}   ({rebuilt} rebuilt)"
        )
    print(
        f"  detail {results[-1][0]:,} / {results[0][0]:,} pairs: "
        f"{results[-1][8] / results[0][8]:.2f}x; tick refresh vs scratch SQL at "
        f"{results[-1][0]:,}: {results[-1][2] / results[-1][4]:.0f}x faster\n"
    )


def metric_list(*, pairs: int, runs: int) -> None:
    """The metrics list of `pairs` pairs: one page, cached and not, and all of them."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from tracker.markets import services
    from tracker.markets.models import Exchange, Metric, Pair

    exchange = services.exchange_get_or_create(name="bench-list")
    services.pairs_create(exchange=exchange, symbols=[f"L{i}/USD" for i in range(pairs)])
    count = Metric.objects.filter(pair__exchange=exchange).count()
    client = Client()
    sizes: dict[str, int] = {}

    def page(*, clear: bool) -> Callable[[], Any]:
        def call() -> None:
            if clear:
                cache.clear()
            response = client.get("/api/v1/metrics")
            assert response.status_code == 200, response.content[:200]
            sizes["page"] = len(response.content)

        return call

    def every_page() -> None:
        cache.clear()
        path, total = "/api/v1/metrics?limit=10000", 0
        while path:
            response = client.get(path)
            assert response.status_code == 200, response.content[:200]
            total += len(response.content)
            cursor = response.headers.get("X-Next-Cursor")
            path = f"/api/v1/metrics?limit=10000&cursor={cursor}" if cursor else ""
        sizes["all"] = total

    tables = {
        model: connection.ops.quote_name(model._meta.db_table) for model in (Metric, Pair, Exchange)
    }
    query = f"""
        SELECT m.id, m.kind, m.reference, p.symbol, p.status, e.name
        FROM {tables[Metric]} m JOIN {tables[Pair]} p ON p.id = m.pair_id
        JOIN {tables[Exchange]} e ON e.id = p.exchange_id ORDER BY m.id LIMIT %s
    """

    def sql(limit: int) -> Callable[[], Any]:
        def call() -> Any:
            with connection.cursor() as cursor:
                cursor.execute(query, [limit])
                return cursor.fetchall()

        return call

    print(f"metrics list: {pairs:,} pairs, {count:,} metrics")
    print(f"  {'ms':<26} {'API p50':>9} {'p95':>9}   {'SQL p50':>9} {'p95':>9}   {'SQL/API':>8}")
    print(
        row("first page (1,000), computed", timed(page(clear=True), runs), timed(sql(1000), runs))
    )
    print(row("first page, from the cache", timed(page(clear=False), runs), timed(sql(1000), runs)))
    print(row("every page (10,000 each)", timed(every_page, runs), timed(sql(count), runs)))
    print(f"  bytes: first page {sizes['page']:,}, every page {sizes['all']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=["rank", "list"], help="run only that section")
    parser.add_argument("--rank-pairs", default="100,1000,10000")
    parser.add_argument("--list-pairs", type=int, default=10_000)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="tracker-history-"))
    setup_django(scratch / "bench.sqlite3")
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from tracker.markets.models import Record

    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    if args.only in (None, "list"):
        metric_list(pairs=args.list_pairs, runs=args.runs)
    if args.only == "list":
        return
    sizes = [int(size) for size in args.rank_pairs.split(",")]
    rank_snapshot(sizes=sizes, end=end, runs=args.runs)
    if args.only == "rank":
        return
    rank_rate(end=end, runs=args.runs)

    began = time.perf_counter()
    ids = build(metrics=args.metrics, days=args.days, step=args.step, end=end)
    built = time.perf_counter() - began
    total = Record.objects.count()
    print(
        f"history: {total:,} records ({args.metrics} metrics x {args.days:g} days x {args.step} s)"
        f", written in {built:.0f} s ({total / built:,.0f} records/s with rollups)"
    )

    client = Client()
    metric = ids[0]  # a price metric
    table = connection.ops.quote_name(Record._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    day_ago = str(adapt(end - timedelta(hours=24)))
    month_ago = str(adapt(end - timedelta(days=30)))
    until = str(adapt(end))

    def api(path: str) -> Callable[[], Any]:
        def call() -> Any:
            cache.clear()
            response = client.get(path)
            assert response.status_code == 200, response.content[:200]
            return response

        return call

    def sql(query: str, params: list[Any]) -> Callable[[], Any]:
        def call() -> Any:
            with connection.cursor() as cursor:
                cursor.execute(query, params)
                return cursor.fetchall()

        return call

    def buckets_sql(width: int, since: str) -> Callable[[], Any]:
        return sql(
            f"SELECT CAST(strftime('%%s', timestamp) AS INTEGER) / {width} AS b, MIN(value), "
            f"MAX(value), AVG(value), COUNT(*) FROM {table} "
            "WHERE metric_id = %s AND timestamp > %s AND timestamp <= %s GROUP BY b ORDER BY b",
            [metric, since, until],
        )

    window = f"until={end.isoformat().replace('+00:00', 'Z')}"
    records = f"/api/v1/metrics/{metric}/records"
    buckets = f"/api/v1/metrics/{metric}/buckets"
    print(f"\n  {'ms':<26} {'API p50':>9} {'p95':>9}   {'SQL p50':>9} {'p95':>9}   {'SQL/API':>8}")
    print(row("raw 24 h, one metric", timed(api(f"{records}?{window}"), args.runs),
              timed(sql(f"SELECT timestamp, value FROM {table} WHERE metric_id = %s AND "
                        "timestamp > %s AND timestamp <= %s ORDER BY timestamp",
                        [metric, day_ago, until]), args.runs)))  # fmt: skip
    print(row("24 h at 5m", timed(api(f"{buckets}?{window}&interval=5m"), args.runs),
              timed(buckets_sql(300, day_ago), args.runs)))  # fmt: skip
    month = f"{buckets}?{window}&range=30d&interval=auto"
    print(row("30 d at auto (1h)", timed(api(month), args.runs),
              timed(buckets_sql(3600, month_ago), args.runs)))  # fmt: skip
    from tracker.markets.services import ranks_refresh

    ranks_refresh(kinds=["price", "volume"], now=end)  # the detail reads the snapshot
    rank_sql = sql(rank_raw_sql(table), [day_ago, until])
    print(row("rank of all metrics", timed(api(f"/api/v1/metrics/{metric}"), args.runs),
              timed(rank_sql, max(3, args.runs // 3))))  # fmt: skip

    cached_path = f"{records}?{window}"
    client.get(cached_path)
    cached = timed(lambda: client.get(cached_path), args.runs)
    uncached = timed(api(cached_path), args.runs)
    print(f"\n  raw 24 h request, cached   p50 {cached[0]:.2f} ms, p95 {cached[1]:.2f} ms")
    print(f"  raw 24 h request, computed p50 {uncached[0]:.2f} ms, p95 {uncached[1]:.2f} ms"
          f"  ({uncached[0] / cached[0]:.1f}x the cached time)")  # fmt: skip


if __name__ == "__main__":
    main()
