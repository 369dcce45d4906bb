"""Ingest throughput: records per second through `records_ingest`, on SQLite or PostgreSQL.

Baseline, measured in the same run on the same schema and rows. On SQLite: the standard
library's `sqlite3.executemany` in one transaction, with the same PRAGMAs the project uses. On
PostgreSQL: psycopg's binary `COPY` of the same rows into the same table in one transaction (the
fastest way in), with `executemany` of one INSERT per row alongside for scale. Each side writes
into an emptied table, `--repeat` times, interleaved; the fastest run of each side is reported,
the least disturbed by whatever else the machine was doing.

    .venv/bin/python bench/ingest.py [--metrics 100] [--ticks 2000] [--repeat 7]
    .venv/bin/python bench/ingest.py --database postgres \
        [--database-url postgres://tracker@127.0.0.1:5432/tracker_bench]

On PostgreSQL the database named in the URL is created for the run and dropped after it (the
role must be allowed to create databases); whatever it held before is lost.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Row = tuple[int, datetime, float]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--database-url",
        default="postgres://tracker@127.0.0.1:5432/tracker_bench",
        help="with --database postgres: the scratch database to create, use and drop",
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    if args.database == "postgres":
        _database_recreate(args.database_url)
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["TRACKER_VAR_DIR"] = str(scratch)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        _run(args, scratch)
    finally:
        if args.database == "postgres":
            _database_drop(args.database_url)


def _run(args: argparse.Namespace, scratch: Path) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from tracker.markets import services

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
    what = f"{len(samples):,} records ({args.metrics} metrics x {args.ticks} ticks)"
    if args.database == "postgres":
        _postgres(args, samples, what)
    else:
        _sqlite(args, scratch, samples, what)


def _sqlite(args: argparse.Namespace, scratch: Path, samples: Sequence[Any], what: str) -> None:
    from django.db import connection

    from tracker.markets import services
    from tracker.markets.models import Record

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
    print(f"ingest into SQLite: {what}")
    print(f"  records_ingest          {ours:>12,.0f} records/s")
    print(f"  sqlite3.executemany     {theirs:>12,.0f} records/s  (baseline)")
    print(f"  ratio                   {ours / theirs:>12.2f}  (target >= 0.5)")


def _postgres(args: argparse.Namespace, samples: Sequence[Any], what: str) -> None:
    import psycopg
    from django.db import connection

    from tracker.markets import services
    from tracker.markets.models import Metric, MinuteRollup, Record

    rows: list[Row] = [(s.metric_id, s.timestamp, s.value) for s in samples]
    record, rollup, metric = (
        connection.ops.quote_name(model._meta.db_table) for model in (Record, MinuteRollup, Metric)
    )
    raw = psycopg.connect(args.database_url)
    admin = psycopg.connect(args.database_url, autocommit=True)

    def emptied() -> None:
        # Outside the timing: every run starts from no records, no rollups, no references.
        admin.execute(f"TRUNCATE {record}, {rollup}")
        admin.execute(f"UPDATE {metric} SET reference = NULL")
        admin.execute(f"VACUUM ANALYZE {record}, {metric}")

    def project() -> float:
        emptied()
        began = time.perf_counter()
        services.records_ingest(samples=samples)
        return time.perf_counter() - began

    def copy() -> float:
        emptied()
        began = time.perf_counter()
        with raw.cursor() as cursor:
            statement = f"COPY {record} (metric_id, timestamp, value) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(statement) as out:
                out.set_types(["bigint", "timestamptz", "float8"])
                for row in rows:
                    out.write_row(row)
        raw.commit()
        return time.perf_counter() - began

    def executemany() -> float:
        emptied()
        began = time.perf_counter()
        with raw.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {record} (metric_id, timestamp, value) VALUES (%s, %s, %s)",
                rows,
            )
        raw.commit()
        return time.perf_counter() - began

    timings: dict[str, list[float]] = {"project": [], "copy": [], "executemany": []}
    sides: list[tuple[str, Callable[[], float]]] = [
        ("copy", copy),
        ("project", project),
        ("executemany", executemany),
    ]
    for run in range(args.repeat):  # interleaved, so drift hits every side alike
        for name, side in sides:
            if name == "executemany" and run >= 2:
                continue  # one INSERT per row is slow and only there for scale
            timings[name].append(side())
    raw.close()
    admin.close()
    connection.close()

    n = len(samples)
    ours, theirs, many = (n / min(timings[k]) for k in ("project", "copy", "executemany"))
    print(f"ingest into PostgreSQL: {what}")
    print(f"  records_ingest          {ours:>12,.0f} records/s")
    print(f"  COPY (binary)           {theirs:>12,.0f} records/s  (baseline)")
    print(f"  executemany             {many:>12,.0f} records/s")
    print(f"  ratio                   {ours / theirs:>12.2f}  (target >= 0.5)")


def _admin(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    )


def _database_recreate(url: str) -> None:
    from psycopg import sql

    name = sql.Identifier(urlsplit(url).path.lstrip("/"))
    with _admin(url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _database_drop(url: str) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    for conn in connections.all():
        if getattr(conn, "pool", None) is not None:
            conn.close_pool()  # type: ignore[attr-defined]
    name = sql.Identifier(urlsplit(url).path.lstrip("/"))
    with _admin(url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


if __name__ == "__main__":
    main()
