"""One poll tick for many pairs: wall time of fetch + store against the stand-in's bare answer.

The stand-in Kraken lists N pairs and answers every Ticker request 50 ms late (its `delay`
switch). The project's figure is one `exchange_poll` of all N pairs through the real ccxt
client: the Ticker call(s), parsing, validation and storing every configured metric with its
rollups. Baseline, measured in the same run against the same stand-in: a raw HTTP GET of the
same Ticker request with urllib, reading the body and nothing more. Both run `--repeat` times,
interleaved; the fastest of each is reported, the least disturbed by the rest of the machine.

    .venv/bin/python bench/poll.py [--pairs 1000 10000] [--delay 0.05] [--repeat 3]
    .venv/bin/python bench/poll.py --database-url postgres://tracker@127.0.0.1:5432/tracker_bench
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--delay", type=float, default=0.05, help="stand-in latency, seconds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--database-url", default="", help="an empty database to use instead of a scratch SQLite"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["TRACKER_VAR_DIR"] = str(scratch)
    os.environ["TRACKER_ENV_FILE"] = "/dev/null"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from tests.fakes.kraken import FakeKraken, FakePair
    from tracker.exchanges import ExchangeClient
    from tracker.ingest.services import exchange_poll
    from tracker.markets import services
    from tracker.markets.models import Exchange, Record

    call_command("migrate", verbosity=0)
    kinds = ",".join(settings.TRACKER_METRICS)
    print(
        f"one poll tick on {connection.vendor}, stand-in Kraken answering in "
        f"{args.delay * 1000:.0f} ms, metrics {kinds}"
    )
    print(f"  {'pairs':>6}  {'tick':>9}  {'bare GET':>9}  {'ratio':>6}  {'stored':>7}  requests")

    for count in args.pairs:
        Exchange.objects.all().delete()
        pairs = [
            FakePair(f"C{i:05d}/USD", f"C{i:05d}USD", f"C{i:05d}USD", f"C{i:05d}/USD",
                     f"C{i:05d}", "ZUSD")
            for i in range(count)
        ]  # fmt: skip
        with FakeKraken(pairs=pairs) as kraken:
            exchange = services.exchange_get_or_create(name="kraken", base_url=kraken.url)
            services.pairs_create(exchange=exchange, symbols=[p.symbol for p in pairs])
            ticks, bare, stored, requests = asyncio.run(
                _measure(kraken, exchange, args, ExchangeClient, exchange_poll)
            )
        tick, get = min(ticks), min(bare)
        print(
            f"  {count:>6,}  {tick * 1000:>7.0f}ms  {get * 1000:>7.0f}ms  {tick / get:>6.1f}"
            f"  {stored:>7,}  {requests} Ticker per tick"
        )
        Record.objects.all().delete()
    print("  (tick: exchange_poll, fetch + store; bare GET: urllib, the same Ticker request)")


async def _measure(kraken, exchange, args, ExchangeClient, exchange_poll):
    from asgiref.sync import sync_to_async
    from django.db import connections

    ticks: list[float] = []
    bare: list[float] = []
    stored = 0
    start = datetime(2024, 1, 1, tzinfo=UTC)
    async with ExchangeClient("kraken", base_url=kraken.url, timeout=60, throttle=False) as client:
        await client.markets()  # a running poller has its markets loaded
        kraken.misbehave("delay", method="Ticker", delay=args.delay)
        requests = 0
        for n in range(args.repeat):
            before = kraken.request_count("Ticker")
            began = time.perf_counter()
            result = await exchange_poll(
                client=client, exchange=exchange, now=start + timedelta(minutes=n)
            )
            ticks.append(time.perf_counter() - began)
            stored = result.stored
            requests = kraken.request_count("Ticker") - before
            last_query = kraken.requests[-1][1]
            bare.append(await asyncio.to_thread(_bare_get, kraken.url, last_query))
        await sync_to_async(connections.close_all)()
    return ticks, bare, stored, requests


def _bare_get(url: str, query: dict[str, str]) -> float:
    from urllib.parse import urlencode

    target = f"{url}/0/public/Ticker" + (f"?{urlencode(query)}" if query else "")
    began = time.perf_counter()
    with urllib.request.urlopen(target, timeout=60) as answer:
        answer.read()
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
