"""The poll as a service: fetch one exchange's active pairs in one call and store the records.

The embedded scheduler calls these functions; so will Celery tasks. Database work runs in a
worker thread (`sync_to_async`) so the event loop keeps serving while a tick is written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import sync_to_async

from tracker.exchanges import ExchangeAdapter, Ticker, UnknownSymbol
from tracker.markets import selectors, services
from tracker.markets.models import Exchange, MetricKind, Pair

from .delisting import unlisted_find

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one exchange did."""

    fetched: int
    stored: int
    rejected: tuple[tuple[str, str], ...]
    delisted: tuple[tuple[str, str], ...] = ()  # (symbol, reason)


def ticker_values(ticker: Ticker) -> dict[str, float]:
    """{kind: value} of every metric one ticker answer gives. Bid, ask and spread only when
    the answer has both quotes; a spread may be zero or negative (a crossed book)."""
    values = {MetricKind.PRICE.value: ticker.last, MetricKind.VOLUME.value: ticker.base_volume}
    if ticker.bid is not None and ticker.ask is not None:
        values[MetricKind.BID.value] = ticker.bid
        values[MetricKind.ASK.value] = ticker.ask
        values[MetricKind.SPREAD.value] = ticker.ask - ticker.bid
    return values


def tickers_store(*, exchange_id: int, tickers: Sequence[Ticker], now: datetime) -> int:
    """Turn tickers into records of the pairs' configured metrics; store them in one
    transaction."""
    kinds = services.metric_kinds_configured()
    metric_ids = selectors.metric_ids_by_symbol(exchange_id=exchange_id)
    samples = []
    for ticker in tickers:
        values = ticker_values(ticker)
        for kind in kinds:
            value = values.get(kind)
            metric_id = metric_ids.get((ticker.symbol, kind))
            if value is not None and metric_id is not None:
                samples.append(
                    services.Sample(metric_id=metric_id, timestamp=ticker.timestamp, value=value)
                )
    return services.records_ingest(samples=samples, now=now)


async def exchange_poll(
    *,
    client: ExchangeAdapter,
    exchange: Exchange,
    now: datetime,
    symbols: Sequence[str] | None = None,
) -> PollResult:
    """One tick for one exchange. Raises ExchangeError when the exchange fails as a whole.

    A pair the exchange refuses (it stopped listing it) is found, delisted with the reason and
    no longer polled; the other pairs are stored in the same tick. `symbols` narrows the poll
    to some of the active pairs (a Celery task polls one chunk of a large exchange).
    """
    if symbols is None:
        symbols = await sync_to_async(selectors.pair_symbols_active)(exchange_id=exchange.id)
    reasons: dict[str, str] = {}
    try:
        batch = await client.tickers(symbols, now=now)
    except UnknownSymbol:
        batch, reasons = await unlisted_find(client=client, symbols=symbols, now=now)
    if reasons:
        delisted = await sync_to_async(services.pairs_delist)(
            exchange_id=exchange.id, reasons=reasons, now=now
        )
        for pair in delisted:
            logger.warning(
                "delisted %s on %s: %s. It is no longer polled; PATCH /api/v1/pairs/%d with "
                '{"active": true} tries it again.',
                pair.symbol,
                exchange.name,
                pair.status_reason,
                pair.id,
            )
    for _, reason in batch.rejected:
        logger.warning("rejected a ticker from %s: %s", exchange.name, reason)
    stored = await sync_to_async(tickers_store)(
        exchange_id=exchange.id, tickers=batch.tickers, now=now
    )
    return PollResult(
        fetched=len(batch.tickers),
        stored=stored,
        rejected=batch.rejected,
        delisted=tuple(reasons.items()),
    )


def _exchange_with_pairs(*, name: str, base_url: str) -> tuple[Exchange, bool]:
    exchange = services.exchange_get_or_create(name=name, base_url=base_url)
    return exchange, Pair.objects.filter(exchange=exchange).exists()


async def pairs_seed(
    *,
    client: ExchangeAdapter,
    base_url: str,
    symbols: Sequence[str],
    optional: Sequence[str] = (),
) -> tuple[Exchange, list[str]]:
    """On an exchange's first run, create its pairs after checking the exchange lists them all.

    Raises UnknownSymbol naming every unlisted symbol of `symbols`, and creates nothing in that
    case; an `optional` symbol the exchange does not list is skipped with a log line. An
    exchange that already has pairs keeps them: later changes go through pair management.
    """
    exchange, seeded = await sync_to_async(_exchange_with_pairs)(
        name=client.name, base_url=base_url
    )
    if not seeded:
        await client.check_symbols(symbols)
        wanted = list(symbols)
        if optional:
            listed = await client.markets()
            for symbol in optional:
                if symbol in listed:
                    wanted.append(symbol)
                else:
                    logger.info("%s does not list %s; not tracked there", client.name, symbol)
        if wanted:
            await sync_to_async(services.pairs_create)(exchange=exchange, symbols=wanted)
            logger.info("seeded %d pairs on %s: %s", len(wanted), client.name, ", ".join(wanted))
    else:
        # Pairs seeded before a metric kind was configured gain it now.
        created = await sync_to_async(services.metrics_ensure)(
            pairs=Pair.objects.filter(exchange=exchange)
        )
        if created:
            logger.info("added %d metrics of newly configured kinds on %s", created, client.name)
    active = await sync_to_async(selectors.pair_symbols_active)(exchange_id=exchange.id)
    return exchange, active
