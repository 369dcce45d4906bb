"""Alert evaluation: the cost per ingested record with many rules, against a naive evaluation.

A scratch SQLite database gets `--metrics` metrics with a record every 10 seconds for the last
hour (through the project's write path, rollups included) and `--rules` rules spread evenly
over them (a window of one hour, factors from 3 to 12, one webhook channel that is never
called: no value is 3x its average). Then `--ticks` ticks each store one new record of every
metric, and each is evaluated:

- the tracker's way, `alerts.evaluate.alerts_evaluate` on the tick's event (the averages from
  the minute rollups, the rules and metrics it watches kept between ticks);
- the naive way, in the same run on the same tick: for each rule, the average of its metric's
  raw records of the last hour without the new one (one AVG query per rule), then the compare.

It prints the median time per tick and per ingested record of each, and the ratio.

    .venv/bin/python bench/alerts.py [--metrics 1000] [--rules 10000] [--ticks 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.history import build, setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=15)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="tracker-alerts-"))
    setup_django(scratch / "alerts.sqlite3")
    from django.contrib.auth.models import User
    from django.db import connection

    from tracker.alerts import services as alert_services
    from tracker.alerts.evaluate import alerts_evaluate
    from tracker.markets import events, services
    from tracker.markets.events import RecordsIngested
    from tracker.markets.models import Record

    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=args.ticks * 10)
    began = time.perf_counter()
    ids = build(metrics=args.metrics, days=1 / 24, step=10, end=end)
    print(
        f"alert evaluation: {len(ids):,} metrics with an hour of records at 10 s "
        f"({Record.objects.count():,} records, written in {time.perf_counter() - began:.0f} s)"
    )
    owner = User.objects.create_user("bench")
    channel = alert_services.channel_create(
        owner=owner, fields={"name": "hook", "kind": "webhook", "url": "https://hooks.invalid/"}
    )
    for i in range(args.rules):
        alert_services.rule_create(
            owner=owner,
            fields={"name": f"rule {i}", "factor": 3.0 + i % 10, "window_seconds": 3600},
            metrics=[ids[i % len(ids)]],
            channels=[channel],
        )
    rules = [
        (metric_id, factor)
        for metric_id, factor in alert_services.AlertRule.objects.values_list(
            "metrics__id", "factor"
        )
    ]
    last = dict(
        Record.objects.filter(metric_id__in=ids, timestamp=end).values_list("metric_id", "value")
    )
    records = Record._meta.db_table
    naive_sql = (
        f'SELECT AVG(value) FROM "{records}" '
        "WHERE metric_id = %s AND timestamp >= %s AND timestamp < %s"
    )
    adapt = connection.ops.adapt_datetimefield_value

    ours, naive, fired = [], [], 0
    for tick in range(1, args.ticks + 1):
        at = end + timedelta(seconds=10 * tick)
        samples = [services.Sample(m, at, last[m]) for m in ids]
        sent: list[RecordsIngested] = []
        with events.subscribed(sent.append):  # the event the ingest sends, as the tracker gets it
            services.records_ingest(samples=samples, now=at)
        (event,) = sent
        started = time.perf_counter()
        outcome = alerts_evaluate(event=event, now=at)
        ours.append(time.perf_counter() - started)
        fired += outcome.fired

        started = time.perf_counter()
        with connection.cursor() as cursor:
            for metric_id, factor in rules:
                cursor.execute(naive_sql, [metric_id, adapt(at - timedelta(hours=1)), adapt(at)])
                (average,) = cursor.fetchone()
                _ = average is not None and last[metric_id] > factor * average
        naive.append(time.perf_counter() - started)

    ours_tick, naive_tick = statistics.median(ours), statistics.median(naive)
    per = len(ids)
    print(f"  {len(rules):,} rules over {per:,} metrics; median of {args.ticks} ticks")
    print(f"  {'':<32} {'per tick':>10} {'per record':>12}")
    print(f"  {'alerts_evaluate':<32} {ours_tick * 1e3:>8.1f}ms {ours_tick / per * 1e6:>10.1f}us")
    print(
        f"  {'naive: AVG of raw records per rule':<32} {naive_tick * 1e3:>8.1f}ms "
        f"{naive_tick / per * 1e6:>10.1f}us  (baseline)"
    )
    print(f"  ratio {naive_tick / ours_tick:.0f}x (goal >= 100x); alerts fired: {fired}")


if __name__ == "__main__":
    main()
