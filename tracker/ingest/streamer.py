"""The stream as a service: sample one exchange's ticker stream into records.

A `Streamer` keeps the exchange's ticker stream open on its active pairs and stores, every
`sample_interval` seconds, the last ticker of each pair seen in that interval, through the same
`tickers_store` as a poll (so the same records, rollups and ingest event). When the pairs change
(added, removed, delisted) it reopens the stream on the new set. While the socket is down,
`covering` is False: the exchange's poll job polls over REST meanwhile (tracker.runtime.jobs).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.db.utils import Error as DatabaseFailure

from tracker.common.backoff import Backoff
from tracker.common.clock import Clock, utc_now
from tracker.common.database import connections_drop, database_describe, database_error_text
from tracker.exchanges import ExchangeAdapter, Ticker, UnknownSymbol
from tracker.exchanges.sampling import latest_per_interval
from tracker.exchanges.stream import TickerStream
from tracker.markets import selectors
from tracker.markets.models import Exchange
from tracker.markets.services import exchange_health_record

from .services import tickers_store

logger = logging.getLogger(__name__)


def _pairs_read(name: str) -> tuple[int | None, list[str]]:
    try:
        exchange_id = Exchange.objects.filter(name=name).values_list("id", flat=True).first()
        if exchange_id is None:
            return None, []
        return exchange_id, selectors.pair_symbols_active(exchange_id=exchange_id)
    finally:
        connections_drop()


def _tickers_store_now(*, exchange_id: int, tickers: Sequence[Ticker], clock: Clock) -> int:
    try:
        return tickers_store(exchange_id=exchange_id, tickers=tickers, now=clock())
    except DatabaseFailure:
        connections_drop()  # a broken connection is not reused by the next sample
        raise


class Streamer:
    """Samples one exchange's ticker stream into records until cancelled.

    `client` gives the stream (`ticker_stream`); `ws_url` overrides its socket URL; `silence`
    is the most seconds without a frame before the socket counts as dead; `resync` the seconds
    between two reads of the exchange's pairs; `health_every` the most seconds between two
    successes written on the exchange's row. A stream the exchange refuses (a symbol it does
    not stream) is tried again after `retry` backoff, the poll covering it meanwhile.
    """

    def __init__(
        self,
        *,
        client: ExchangeAdapter,
        ws_url: str = "",
        sample_interval: float = 1.0,
        silence: float = 30.0,
        resync: float = 2.0,
        health_every: float = 10.0,
        retry: Backoff | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.client = client
        self.ws_url = ws_url
        self.sample_interval = sample_interval
        self.silence = silence
        self.resync = resync
        self.health_every = health_every
        self.retry = retry or Backoff(base=resync, cap=300.0)
        self.clock = clock
        self.stored = 0  # records stored from the stream since the start
        self._delivered_before = 0  # tickers delivered by the streams closed so far
        self._stream: TickerStream | None = None
        self._refusals = 0
        self._healthy_at = float("-inf")
        self._storing_failed = False

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def updates(self) -> int:
        """Tickers the exchange pushed and the stream delivered, since the start."""
        stream = self._stream
        return self._delivered_before + (stream.delivered if stream is not None else 0)

    @property
    def covering(self) -> bool:
        """True while the socket is up and delivering: REST polling can stand by."""
        return self._stream is not None and self._stream.connected

    async def run(self) -> None:
        """Stream until cancelled, following the exchange's active pairs. Returns at once for
        an exchange without a ticker stream (the poll goes on)."""
        if not self.client.has_stream:
            logger.error("%s has no ticker stream; it is polled instead", self.name)
            return
        while True:
            try:
                exchange_id, symbols = await sync_to_async(_pairs_read)(self.name)
            except DatabaseFailure as exc:
                self._say_storing_failed(exc, "reading its pairs")
                await asyncio.sleep(self.resync)
                continue
            if exchange_id is None or not symbols:
                await asyncio.sleep(self.resync)  # not seeded yet, or no active pair
                continue
            try:
                await self._stream_until_pairs_change(exchange_id, symbols)
            except UnknownSymbol as exc:
                self._refusals += 1
                pause = self.retry.delay(self._refusals)
                logger.warning(
                    "%s stream refused the pairs (%s); polled over REST, streaming again in %.0fs",
                    self.name,
                    exc,
                    pause,
                )
                await asyncio.sleep(pause)

    async def _stream_until_pairs_change(self, exchange_id: int, symbols: list[str]) -> None:
        stream = self.client.ticker_stream(symbols, ws_url=self.ws_url, silence=self.silence)
        logger.info("streaming %d pairs of %s from %s", len(symbols), self.name, stream.ws_url)
        checked = time.monotonic()
        async with stream:
            self._stream = stream
            try:
                async for sample in latest_per_interval(stream, self.sample_interval):
                    self._refusals = 0
                    await self._store(exchange_id, list(sample.values()))
                    if time.monotonic() - checked < self.resync:
                        continue
                    checked = time.monotonic()
                    if await self._pairs_changed(symbols):
                        logger.info("%s pairs changed; subscribing again", self.name)
                        return
            finally:
                self._delivered_before += stream.delivered
                self._stream = None

    async def _pairs_changed(self, symbols: list[str]) -> bool:
        try:
            _, now = await sync_to_async(_pairs_read)(self.name)
        except DatabaseFailure:
            return False  # the next check tries again; the stream goes on meanwhile
        return set(now) != set(symbols)

    async def _store(self, exchange_id: int, tickers: list[Ticker]) -> None:
        try:
            self.stored += await sync_to_async(_tickers_store_now)(
                exchange_id=exchange_id, tickers=tickers, clock=self.clock
            )
        except DatabaseFailure as exc:
            self._say_storing_failed(exc, "storing a sample")
            return
        if self._storing_failed:
            self._storing_failed = False
            logger.info("the database takes the %s stream's samples again", self.name)
        if time.monotonic() - self._healthy_at >= self.health_every:
            self._healthy_at = time.monotonic()
            try:
                await sync_to_async(exchange_health_record)(name=self.name, now=self.clock())
            except DatabaseFailure:
                await sync_to_async(connections_drop)()

    def _say_storing_failed(self, exc: DatabaseFailure, doing: str) -> None:
        if self._storing_failed:
            return  # one line per outage: a sample a second would flood the log
        self._storing_failed = True
        logger.warning(
            "the %s stream failed %s (%s: %s, in %s); samples are dropped until the database "
            "recovers",
            self.name,
            doing,
            type(exc).__name__,
            database_error_text(exc),
            database_describe(),
        )
