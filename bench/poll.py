"""One poll tick for many pairs, and a stream sampled into records, against bare clients.

The stand-in Kraken lists N pairs and answers every Ticker request 50 ms late (its `delay`
switch). The project's figure is one `exchange_poll` of all N pairs through the real ccxt
client: the Ticker call(s), parsing, validation and storing every configured metric with its
rollups. Baseline, measured in the same run against the same stand-in: a raw HTTP GET of the
same Ticker request with urllib, reading the body and nothing more. Both run `--repeat` times,
interleaved; the fastest of each is reported, the least disturbed by the rest of the machine.

Streaming: a stand-in Kraken WebSocket v2 server, in a process of its own, pushes `--rate`
ticker updates a second over `--stream-pairs` pairs, each stamped with the moment it was sent
(in its volume field; the monotonic clock is the machine's, shared by both processes). The
project's figure is a `Streamer` (the real ccxt.pro client, sampling every second, storing every
configured metric through the same write path as a poll): updates a second it took in, and the
delay from an update's sending to the commit of the record that holds it (which includes the
wait for the end of its sampling second), and from the newest update of a sample to its commit.
Baseline, in the same run against the same server: a bare `websockets` client subscribing to
the same pairs and decoding every frame.

    .venv/bin/python bench/poll.py [--pairs 1000 10000] [--delay 0.05] [--repeat 3]
    .venv/bin/python bench/poll.py [--stream-pairs 1000] [--rate 5000] [--seconds 20]
    .venv/bin/python bench/poll.py --database-url postgres://tracker@127.0.0.1:5432/tracker_bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
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
    parser.add_argument("--stream-pairs", type=int, default=1000, help="0: no streaming part")
    parser.add_argument("--rate", type=float, default=5000, help="updates/s the stand-in pushes")
    parser.add_argument("--seconds", type=float, default=20, help="length of each stream run")
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
    if args.stream_pairs:
        _streaming(args, connection.vendor)


def _fake_pairs(count: int) -> list:
    from tests.fakes.kraken import FakePair

    return [
        FakePair(f"C{i:05d}/USD", f"C{i:05d}USD", f"C{i:05d}USD", f"C{i:05d}/USD", f"C{i:05d}",
                 "ZUSD")
        for i in range(count)
    ]  # fmt: skip


class _SendTimes:
    """Quotes whose volume is the moment they are sent, on the machine's monotonic clock."""

    def quote(self, symbol: str) -> tuple[float, float]:
        return 100.0, time.monotonic()


def _serve_stream(pairs: int, rate: float, pipe: Connection) -> None:
    """The stand-ins (REST for the markets, the socket for the updates), until told to stop."""
    from tests.fakes.kraken import FakeKraken
    from tests.fakes.kraken_ws import FakeKrakenWS

    listed = _fake_pairs(pairs)
    with (
        FakeKraken(pairs=listed) as rest,
        FakeKrakenWS(pairs=listed, prices=_SendTimes(), rate=rate, heartbeat=1.0) as ws,
    ):
        pipe.send((rest.url, ws.url))
        pipe.recv()


def _streaming(args: argparse.Namespace, vendor: str) -> None:
    from tracker.markets import services
    from tracker.markets.models import Exchange

    Exchange.objects.all().delete()
    symbols = [pair.symbol for pair in _fake_pairs(args.stream_pairs)]
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    server = spawn.Process(target=_serve_stream, args=(args.stream_pairs, args.rate, theirs))
    server.start()
    try:
        rest_url, ws_url = ours.recv()
        exchange = services.exchange_get_or_create(name="kraken", base_url=rest_url)
        services.pairs_create(exchange=exchange, symbols=symbols)
        tracker = asyncio.run(_stream_tracker(rest_url, ws_url, args.seconds))
        bare = asyncio.run(_stream_bare(ws_url, symbols, args.seconds))
    finally:
        ours.send("stop")
        server.join(timeout=30)
    print()
    print(
        f"streaming on {vendor}: stand-in Kraken v2 pushing {args.rate:,.0f} updates/s over "
        f"{args.stream_pairs:,} pairs, sampled every 1 s, {args.seconds:g} s each"
    )
    print(
        f"  {'':<22}  {'updates/s':>9}  {'delay p50':>9}  {'delay p99':>9}  {'newest p50':>10}"
        f"  {'newest p99':>10}  {'records/s':>9}"
    )
    for name, figures in (("tracker (Streamer)", tracker), ("bare websockets client", bare)):
        rate, delays, newest, records = figures
        print(
            f"  {name:<22}  {rate:>9,.0f}  {_ms(delays, 50):>9}  {_ms(delays, 99):>9}"
            f"  {_ms(newest, 50):>10}  {_ms(newest, 99):>10}  {records:>9}"
        )
    print(f"  {'ratio (updates/s)':<22}  {tracker[0] / bare[0]:>9.2f}")
    print(
        "  (delay: sent -> committed, or -> decoded for the bare client, including the wait for "
        "the end of the sampling second; newest: the newest update of a sample -> committed)"
    )


def _ms(values: list[float], percentile: int) -> str:
    if not values:
        return "-"
    return f"{statistics.quantiles(values, n=100)[percentile - 1] * 1000:,.0f}ms"


async def _stream_tracker(rest_url: str, ws_url: str, seconds: float):
    import tracker.ingest.streamer as streamer_module
    from tracker.exchanges import ExchangeClient
    from tracker.ingest.streamer import Streamer

    samples: list[tuple[float, list[float]]] = []
    store = streamer_module.tickers_store
    measuring = False

    def timed_store(**kwargs):
        stored = store(**kwargs)
        if measuring:  # committed: record_ingest's transaction ends before it returns
            samples.append((time.monotonic(), [t.base_volume for t in kwargs["tickers"]]))
        return stored

    streamer_module.tickers_store = timed_store
    try:
        async with ExchangeClient("kraken", base_url=rest_url, throttle=False, timeout=60) as api:
            streamer = Streamer(client=api, ws_url=ws_url, resync=3600, health_every=3600)
            running = asyncio.ensure_future(streamer.run())
            deadline = time.monotonic() + 60
            while not streamer.covering:
                if time.monotonic() > deadline or running.done():
                    raise SystemExit("the stream did not come up within 60 s")
                await asyncio.sleep(0.1)
            await asyncio.sleep(3)  # past the snapshots and the first samples
            measuring = True
            first_updates, first_stored, began = streamer.updates, streamer.stored, time.monotonic()
            await asyncio.sleep(seconds)
            measuring = False
            took = time.monotonic() - began
            updates, stored = streamer.updates - first_updates, streamer.stored - first_stored
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    finally:
        streamer_module.tickers_store = store
    delays = [at - sent for at, sent_times in samples for sent in sent_times]
    newest = [at - max(sent_times) for at, sent_times in samples if sent_times]
    return updates / took, delays, newest, f"{stored / took:,.0f}"


async def _stream_bare(ws_url: str, symbols: list[str], seconds: float):
    from websockets.asyncio.client import connect

    delays: list[float] = []
    count = 0
    async with connect(ws_url, max_size=None) as socket:
        subscribe = {"method": "subscribe", "params": {"channel": "ticker", "symbol": symbols}}
        await socket.send(json.dumps(subscribe))
        warm = time.monotonic() + 3
        end = warm + seconds
        while (now := time.monotonic()) < end:
            try:
                frame = await asyncio.wait_for(socket.recv(), end - now)
            except TimeoutError:
                break
            arrived = time.monotonic()
            message = json.loads(frame)
            if message.get("channel") != "ticker" or message.get("type") != "update":
                continue
            if arrived < warm:
                continue
            for data in message["data"]:
                count += 1
                delays.append(arrived - data["volume"])
    return count / seconds, delays, [], "-"


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
