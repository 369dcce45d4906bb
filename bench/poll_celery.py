"""One poll tick of many pairs by Celery workers on PostgreSQL, next to the embedded scheduler.

A scratch PostgreSQL database holds N pairs tracked on the stand-in Kraken (tests/fakes/kraken.py,
listing exactly those N pairs and answering every Ticker request `--latency` late, its `delay`
switch), served from a thread of this process as in bench/poll.py. Three figures, each the
fastest of `--repeat` ticks:

- embedded: the embedded scheduler's tick, one `exchange_poll` of all N pairs in this process
  through the real ccxt client with its markets loaded (the call bench/poll.py times);
- celery: `--workers` real worker processes (`celery -A config worker -Q poll --concurrency C`,
  Redis as the broker); one tick is `tracker.poll_due` sent for the exchange, which fans out one
  `tracker.poll_exchange` per `--chunk` pairs. Timed from the send until every pair's records
  for that tick are committed (the records counted in PostgreSQL every 50 ms). Each pool
  process keeps its exchange client from task to task, as in production, so the first tick
  loads the markets in every process and the next ones do not;
- baseline: psycopg's binary COPY of as many rows (metric id, time, value) into a plain table
  without indexes in the same database, one transaction: the fastest way rows get in.

Records/s of each mode is the records of a tick over its wall time; its ratio is to the COPY's.
Where a Celery tick's time goes: each task's run time as its worker logged it, the requests the
stand-in answered during the tick, and one task's steps (markets in a process's first task;
tickers, store and release in a later one) timed in this process on the first chunk.

    .venv/bin/python bench/poll_celery.py [--pairs 10000] [--latency 0.05] [--chunk 2500]
        [--workers 2] [--concurrency 2] [--repeat 3]
        [--database-url postgres://tracker@127.0.0.1:5432/tracker_bench_poll_celery]
        [--redis-url redis://127.0.0.1:6379/12]

The database named in the URL is created for the run and dropped after it, and the Redis db is
emptied before and after; whatever they held before is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import _database_drop, _database_recreate  # noqa: E402
from bench.poll import _fake_pairs, _measure  # noqa: E402

CHUNK_DONE = re.compile(r"Task tracker\.poll_exchange\[[^\]]+\] succeeded in ([0-9.]+)s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05, help="Ticker latency, seconds")
    parser.add_argument("--chunk", type=int, default=2500, help="pairs per poll task")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size of each worker")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=120, help="seconds a tick may take")
    parser.add_argument(
        "--database-url", default="postgres://tracker@127.0.0.1:5432/tracker_bench_poll_celery"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    args = parser.parse_args()

    import redis

    from tests.fakes.kraken import FakeKraken

    broker = redis.Redis.from_url(args.redis_url)
    broker.flushdb()
    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-celery-"))
    _database_recreate(args.database_url)
    kraken = FakeKraken(pairs=_fake_pairs(args.pairs)).start()
    env = {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "TRACKER_SCHEDULER": "celery",
        "TRACKER_POLL_CHUNK": str(args.chunk),
        "TRACKER_EXCHANGE_URL": kraken.url,
        "TRACKER_VAR_DIR": str(scratch),
        "TRACKER_ENV_FILE": "/dev/null",
        "TRACKER_CACHE_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        _run(args, kraken, env, scratch, workers)
    finally:
        for worker in workers:
            _stop(worker)
        kraken.stop()
        broker.flushdb()
        broker.close()
        _database_drop(args.database_url)
        shutil.rmtree(scratch, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    kraken: Any,
    env: dict[str, str],
    scratch: Path,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    import django
    import redis

    django.setup()
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from tracker.exchanges import ExchangeClient
    from tracker.ingest.services import exchange_poll
    from tracker.markets import services
    from tracker.markets.models import Exchange, MinuteRollup, Record

    call_command("migrate", verbosity=0)
    pairs = _fake_pairs(args.pairs)
    exchange = services.exchange_get_or_create(name="kraken", base_url=kraken.url)
    Exchange.objects.exclude(id=exchange.id).delete()
    services.pairs_create(exchange=exchange, symbols=[p.symbol for p in pairs])
    expected = args.pairs * len(settings.TRACKER_METRICS)
    record, rollup = (
        connection.ops.quote_name(model._meta.db_table) for model in (Record, MinuteRollup)
    )
    db = psycopg.connect(args.database_url, autocommit=True)

    def emptied() -> None:
        db.execute(f"TRUNCATE {record}, {rollup}")

    def count() -> int:
        return int(db.execute(f"SELECT COUNT(*) FROM {record}").fetchone()[0])  # type: ignore[index]

    # (a) The embedded scheduler's tick, as bench/poll.py times it (it also sets the latency).
    measured = argparse.Namespace(delay=args.latency, repeat=args.repeat)
    ticks, _, stored, embedded_requests = asyncio.run(
        _measure(kraken, exchange, measured, ExchangeClient, exchange_poll)
    )
    if stored != expected:
        raise SystemExit(f"the embedded tick stored {stored:,} records, not {expected:,}")
    embedded = min(ticks)

    # The baseline: the same number of rows by binary COPY into a plain table.
    db.execute("CREATE TABLE bench_copy (metric_id bigint, timestamp timestamptz, value float8)")
    metric_ids = [row[0] for row in db.execute("SELECT id FROM markets_metric ORDER BY id")]
    stamp = datetime.now(UTC)
    rows = [(m, stamp, 100.0 + m % 97) for m in metric_ids[:expected]]
    copies = [_copy(db, rows) for _ in range(args.repeat)]

    # (b) Celery workers.
    emptied()
    db.execute("VACUUM ANALYZE")
    for n in range(args.workers):
        log = scratch / f"worker{n}.log"
        workers.append(_worker(n, args.concurrency, env, log))
    for n, worker in enumerate(workers):
        _wait_ready(worker, scratch / f"worker{n}.log", timeout=60)

    from config.celery import app

    celery_ticks: list[float] = []
    chunk_times: list[list[float]] = []
    requests: list[dict[str, int]] = []
    logs = [scratch / f"worker{n}.log" for n in range(args.workers)]
    cache = redis.Redis.from_url(args.redis_url)
    for _ in range(args.repeat):
        emptied()
        for key in cache.scan_iter(match="*tracker:poll-sent:*"):
            cache.delete(key)  # each tick here polls afresh, however close the last one was
        seen = [path.stat().st_size for path in logs]
        before = {m: kraken.request_count(m) for m in ("Ticker", "AssetPairs", "Assets")}
        began = time.perf_counter()
        app.send_task("tracker.poll_due", args=(exchange.id,))
        deadline = began + args.deadline
        while (done := count()) < expected:
            if time.perf_counter() > deadline:
                tails = "\n".join(path.read_text()[-3000:] for path in logs)
                raise SystemExit(
                    f"{done:,} of {expected:,} records after {args.deadline:g}s\n{tails}"
                )
            time.sleep(0.05)
        celery_ticks.append(time.perf_counter() - began)
        time.sleep(0.5)  # the last tasks' "succeeded" lines
        chunk_times.append(_chunk_times(logs, since=seen))
        requests.append({m: kraken.request_count(m) - before[m] for m in before})
    cache.close()
    parts = _task_parts(args, kraken, exchange)
    db.close()
    _report(
        args,
        expected=expected,
        vendor=connection.vendor,
        kinds=settings.TRACKER_METRICS,
        embedded=embedded,
        embedded_requests=embedded_requests,
        celery=celery_ticks,
        chunk_times=chunk_times[celery_ticks.index(min(celery_ticks))],
        requests=requests[celery_ticks.index(min(celery_ticks))],
        copy=min(copies),
        parts=parts,
    )


def _task_parts(args: argparse.Namespace, kraken: Any, exchange: Any) -> dict[str, float]:
    """A poll task's steps timed in this process on chunk 1, as a pool process runs them: on
    the worker's kept client (tracker.runtime.worker_clients), each task on an event loop of its
    own. The first task of a process loads the markets; a tick later (the request spacing has
    passed), a task fetches its chunk's tickers, stores them and releases the connections."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    from tracker.ingest.services import tickers_store
    from tracker.markets import selectors
    from tracker.runtime.tasks import chunks_count, symbols_chunk
    from tracker.runtime.worker_clients import exchange_client

    every = selectors.pair_symbols_active(exchange_id=exchange.id)
    symbols = symbols_chunk(every, chunk=0, chunks=chunks_count(len(every), size=args.chunk))
    now = datetime(2024, 6, 1, tzinfo=UTC)
    client = exchange_client("kraken", base_url=kraken.url)
    parts: dict[str, float] = {}

    async def first_task() -> None:
        began = time.perf_counter()
        await client.markets()
        parts["markets (first task of a process)"] = time.perf_counter() - began
        await client.release()

    async def task() -> None:
        before = kraken.request_count("Ticker")
        began = time.perf_counter()
        batch = await client.tickers(symbols, now=now)
        took = time.perf_counter() - began
        parts[f"tickers ({kraken.request_count('Ticker') - before} Ticker)"] = took
        began = time.perf_counter()
        await sync_to_async(tickers_store)(exchange_id=exchange.id, tickers=batch.tickers, now=now)
        parts[f"store ({len(batch.tickers):,} pairs)"] = time.perf_counter() - began
        began = time.perf_counter()
        await client.release()
        parts["release"] = time.perf_counter() - began
        await sync_to_async(connections.close_all)()

    asyncio.run(first_task())
    time.sleep(client.adapter._api.rateLimit / 1000)  # type: ignore[attr-defined]
    asyncio.run(task())
    return parts


def _copy(db: Any, rows: list[tuple[int, datetime, float]]) -> float:
    db.execute("TRUNCATE bench_copy")
    began = time.perf_counter()
    with db.transaction(), db.cursor() as cursor:
        statement = "COPY bench_copy (metric_id, timestamp, value) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(statement) as out:
            out.set_types(["bigint", "timestamptz", "float8"])
            for row in rows:
                out.write_row(row)
    return time.perf_counter() - began


def _worker(n: int, concurrency: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "poll",
        "--concurrency", str(concurrency), "--hostname", f"bench{n}@%h", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its pool's children are signalled with it
        )


def _wait_ready(worker: subprocess.Popen[bytes], log: Path, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while " ready." not in log.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"a worker did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=20)


def _chunk_times(logs: list[Path], *, since: list[int]) -> list[float]:
    """Run times of the poll tasks the workers logged after the given sizes of their logs."""
    times: list[float] = []
    for path, offset in zip(logs, since, strict=True):
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        times.extend(float(match.group(1)) for match in CHUNK_DONE.finditer(text))
    return times


def _report(
    args: argparse.Namespace,
    *,
    expected: int,
    vendor: str,
    kinds: list[str],
    embedded: float,
    embedded_requests: int,
    celery: list[float],
    chunk_times: list[float],
    requests: dict[str, int],
    copy: float,
    parts: dict[str, float],
) -> None:
    tick = min(celery)
    baseline = expected / copy
    chunks = -(-args.pairs // args.chunk)
    noun = "task" if chunks == 1 else "tasks"
    print(
        f"one poll tick of {args.pairs:,} pairs on {vendor}, stand-in Kraken answering Ticker "
        f"in {args.latency * 1000:.0f} ms, metrics {','.join(kinds)}; fastest of {args.repeat}"
    )
    print(f"  {'':<34}  {'wall':>8}  {'records':>7}  {'records/s':>9}  {'to COPY':>7}")
    lines = [
        ("embedded scheduler (exchange_poll)", embedded),
        (f"celery, {args.workers} workers x {args.concurrency}", tick),
        ("COPY into a plain table (baseline)", copy),
    ]
    for name, took in lines:
        rate = expected / took
        print(
            f"  {name:<34}  {took * 1000:>6.0f}ms  {expected:>7,}  {rate:>9,.0f}"
            f"  {rate / baseline:>7.2f}"
        )
    goal = "met" if tick < 5 else "missed"
    print(
        f"  celery goal < 5 s: {goal}; all celery ticks {', '.join(f'{t:.2f}s' for t in celery)}"
        " (the first loads the markets in each pool process)"
    )
    print(
        f"  celery workers: chunk {args.chunk} pairs -> {chunks} {noun}; "
        f"{requests.get('Ticker', 0)} Ticker, {requests.get('AssetPairs', 0)} AssetPairs, "
        f"{requests.get('Assets', 0)} Assets requests (embedded: {embedded_requests} Ticker)"
    )
    if chunk_times:
        print(
            f"  per task, as its worker logged it (to after its commit): "
            f"min {min(chunk_times):.2f}s, median {statistics.median(chunk_times):.2f}s, "
            f"max {max(chunk_times):.2f}s, "
            f"sum {sum(chunk_times):.1f}s over {args.workers * args.concurrency} pool processes"
        )

    print(
        "  one task's steps, timed in this process on chunk 1: "
        + ", ".join(f"{name} {took:.2f}s" for name, took in parts.items())
    )


if __name__ == "__main__":
    main()
