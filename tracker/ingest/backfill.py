"""Backfill: the last hours of a pair's price from the exchange's OHLC candles.

Each finished candle's close is stored at its close time (open + timeframe) as a price record,
through `records_ingest`, so the minute rollups, versions and events follow as for a poll.
One-minute candles are paged forward from the start of the window; where the exchange keeps
fewer of them than the window needs (Kraken keeps 720: 12 hours), five-minute candles fill the
older part. A minute that already has records (polled) is skipped: polled records win, and a
repeated backfill stores nothing twice. Each page is stored as it arrives, so an exchange that
fails halfway leaves what was stored, and the error is reported in the result.

Volume is not backfilled: a candle's volume is traded within that candle, not the 24-hour
base volume the ticker reports, so the two series would not be comparable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings

from tracker.exchanges import Candle, ExchangeAdapter, ExchangeError, adapter_for
from tracker.markets import services
from tracker.markets.models import Exchange, Metric, MetricKind, MinuteRollup, Pair

logger = logging.getLogger(__name__)

HOURS = 24.0  # what a new pair gets
TIMEFRAMES = (("1m", timedelta(minutes=1)), ("5m", timedelta(minutes=5)))


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """What one backfill of one pair did; `error` is the exchange's failure, if any."""

    symbol: str
    fetched: int
    stored: int
    since: datetime | None
    until: datetime | None
    error: str = ""


def _price_metric_id(pair: Pair) -> int:
    return Metric.objects.get(pair=pair, kind=MetricKind.PRICE).id


def _store(
    *, pair: Pair, metric_id: int, candles: list[tuple[datetime, float]], now: datetime
) -> int:
    """Store (close time, close) points in minutes without records yet; widen the window."""
    if not candles:
        return 0
    first, last = candles[0][0], candles[-1][0]
    taken = set(
        MinuteRollup.objects.filter(
            metric_id=metric_id,
            minute__gte=first.replace(second=0, microsecond=0),
            minute__lte=last,
        ).values_list("minute", flat=True)
    )
    samples = [
        services.Sample(metric_id=metric_id, timestamp=at, value=close)
        for at, close in candles
        if at.replace(second=0, microsecond=0) not in taken
    ]
    stored = services.records_ingest(samples=samples, now=now)
    services.pair_backfilled_mark(pair=pair, since=first, until=last)
    return stored


async def pair_backfill(
    *, client: ExchangeAdapter, pair: Pair, hours: float, now: datetime
) -> BackfillResult:
    """Fill the `hours` before `now` of `pair`'s price from candles. Never raises
    ExchangeError (nor ValueError for a timeframe the exchange lacks): the failure is in the
    result, and what was stored before it stays."""
    metric_id = await sync_to_async(_price_metric_id)(pair)
    start = now - timedelta(hours=hours)
    fetched = stored = 0
    since: datetime | None = None
    until: datetime | None = None

    async def store(candles: list[Candle], step: timedelta, *, before: datetime) -> None:
        nonlocal fetched, stored, since, until
        points = [
            (c.opened_at + step, c.close)
            for c in candles
            if c.opened_at >= start and c.opened_at + step <= now and c.opened_at + step <= before
        ]
        fetched += len(points)
        stored += await sync_to_async(_store)(
            pair=pair, metric_id=metric_id, candles=points, now=now
        )
        if points:
            since = points[0][0] if since is None else min(since, points[0][0])
            until = points[-1][0] if until is None else max(until, points[-1][0])

    try:
        (fine, fine_step), (coarse, coarse_step) = TIMEFRAMES
        first_fine: datetime | None = None
        cursor = start
        for _ in range(int(hours * 60) + 2):  # bounds the paging whatever the exchange answers
            page = await client.candles(pair.symbol, timeframe=fine, since=cursor)
            page = [c for c in page if c.opened_at >= cursor]
            if not page:
                break
            first_fine = page[0].opened_at if first_fine is None else first_fine
            await store(page, fine_step, before=now)
            cursor = page[-1].opened_at + fine_step
            if cursor + fine_step > now:
                break
        gap_end = first_fine if first_fine is not None else now
        if gap_end - start > fine_step:
            page = await client.candles(pair.symbol, timeframe=coarse, since=start)
            await store(page, coarse_step, before=gap_end)
    except (ExchangeError, ValueError) as exc:  # ValueError: the exchange lacks a timeframe
        logger.warning("backfill of %s on %s stopped: %s", pair.symbol, client.name, exc)
        return BackfillResult(pair.symbol, fetched, stored, since, until, error=str(exc))
    logger.info("backfilled %d records of %s on %s", stored, pair.symbol, client.name)
    return BackfillResult(pair.symbol, fetched, stored, since, until)


async def _pairs_backfill(
    pairs: list[Pair], *, exchange: Exchange, hours: float, now: datetime
) -> list[BackfillResult]:
    results = []
    async with adapter_for(
        exchange.name, base_url=exchange.base_url, timeout=settings.TRACKER_EXCHANGE_TIMEOUT
    ) as client:
        for pair in pairs:
            results.append(await pair_backfill(client=client, pair=pair, hours=hours, now=now))
    return results


def pairs_backfill(*, pairs: list[Pair], hours: float, now: datetime) -> list[BackfillResult]:
    """Backfill pairs of one exchange, one after the other, through one adapter (sync callers:
    views and commands)."""
    if not pairs:
        return []
    if len({pair.exchange_id for pair in pairs}) > 1:
        raise ValueError("pairs_backfill takes the pairs of one exchange")
    exchange = Exchange.objects.get(id=pairs[0].exchange_id)
    return async_to_sync(_pairs_backfill)(pairs, exchange=exchange, hours=hours, now=now)
