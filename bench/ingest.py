"""Ingest throughput: records per second through `records_ingest` into SQLite.

Baseline, measured in the same run on the same schema and rows: the standard library's
`sqlite3.executemany` in one transaction, with the same PRAGMAs the project uses. Each side
writes into an emptied table, `--repeat` times, interleaved; the fastest run of each side is
reported, the least disturbed by whatever else the machine was doing.

    .venv/bin/python bench/ingest.py [--metrics 100] [--ticks 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["TRACKER_VAR_DIR"] = str(scratch)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tracker.markets import services
    from tracker.markets.models import Record

    call_command("migrate", verbosity=0)
    exchange = services.exchange_get_or_create(name="bench")
    pairs = services.pairs_create(
        exchange=exchange, symbols=[f"C{i}/USD" for i in range((args.metrics + 1) // 2)]
    )
    metric_ids = [m.id for p in pairs for m in p.metrics.all()][: args.metrics]

    start = datetime(2024, 1, 1, tzinfo=UTC)
    samples = [
        services.Sample(metric_id=m, timestamp=start + timedelta(seconds=t), value=100.0 + t % 97)
        for t in range(args.ticks)
        for m in metric_ids
    ]
    rows = [(s.metric_id, s.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f"), s.value) for s in samples]
    table = Record._meta.db_table

    def project() -> float:
        Record.objects.all().delete()
        began = time.perf_counter()
        services.records_ingest(samples=samples)
        return time.perf_counter() - began

    connection.close()
    raw = sqlite3.connect(scratch / "bench.sqlite3", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")

    def baseline() -> float:
        raw.execute(f"DELETE FROM {table}")
        began = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(
            f"INSERT INTO {table} (metric_id, timestamp, value) VALUES (?, ?, ?)",
            rows,
        )
        raw.execute("COMMIT")
        return time.perf_counter() - began

    project_times, baseline_times = [], []
    for _ in range(args.repeat):  # interleaved, so drift hits both sides alike
        baseline_times.append(baseline())
        project_times.append(project())
    raw.close()

    n = len(samples)
    ours = n / min(project_times)
    theirs = n / min(baseline_times)
    print(f"ingest into SQLite: {n:,} records ({args.metrics} metrics x {args.ticks} ticks)")
    print(f"  records_ingest          {ours:>12,.0f} records/s")
    print(f"  sqlite3.executemany     {theirs:>12,.0f} records/s  (baseline)")
    print(f"  ratio                   {ours / theirs:>12.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
