"""The Kraken adapter against the stand-in, through the real ccxt client over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, TypeVar

import pytest

from tests.fakes.kraken import FakeKraken
from tracker.exchanges import BadResponse, ExchangeAdapter, ExchangeClient, UnknownSymbol
from tracker.exchanges.generic import GenericAdapter
from tracker.exchanges.kraken import KrakenAdapter

T = TypeVar("T")
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def run(adapter: ExchangeAdapter, body: Callable[[Any], Awaitable[T]]) -> T:
    async def main() -> T:
        async with adapter:
            return await body(adapter)

    return asyncio.run(main())


def kraken_adapter(fake: FakeKraken) -> KrakenAdapter:
    return KrakenAdapter(base_url=fake.url, timeout=2, throttle=False)


def test_markets_are_unified_symbols_loaded_once(kraken):
    async def body(adapter: KrakenAdapter) -> tuple[frozenset[str], frozenset[str]]:
        first = await adapter.markets()
        return first, await adapter.markets()

    first, again = run(kraken_adapter(kraken), body)
    assert {"BTC/USD", "DOGE/USD"} <= first == again
    assert kraken.request_count("AssetPairs") == 1


def test_tickers_carry_last_volume_bid_and_ask_from_one_call(kraken):
    kraken.prices.set("BTC/USD", 42000.0, 1414.5)
    batch = run(kraken_adapter(kraken), lambda a: a.tickers(["BTC/USD", "DOGE/USD"], now=NOW))

    btc, doge = batch.tickers
    assert (btc.symbol, btc.timestamp, btc.last, btc.base_volume) == (
        "BTC/USD",
        NOW,
        42000.0,
        1414.5,
    )
    assert (btc.bid, btc.ask) == (pytest.approx(42000 * 0.9998), pytest.approx(42000 * 1.0002))
    assert doge.symbol == "DOGE/USD" and doge.bid is not None and doge.ask is not None
    assert batch.rejected == ()
    assert [q for m, q, _ in kraken.requests if m == "Ticker"] == [{"pair": "XXBTZUSD,XDGUSD"}]


SIX = ["BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "SOL/USD", "ADA/USD"]


def test_a_partly_bad_batch_costs_only_the_bad_pairs(kraken):
    """NaN, letters, zero and a negative price in four entries: the other two are kept."""
    kraken.misbehave("bad_numbers", method="Ticker")
    batch = run(kraken_adapter(kraken), lambda a: a.tickers(SIX, now=NOW))

    kept = {t.symbol for t in batch.tickers}
    refused = {symbol for symbol, _ in batch.rejected}
    assert len(kept) == 2 and kept | refused == set(SIX) and not kept & refused
    assert all(t.last > 0 for t in batch.tickers)
    assert kraken.request_count("Ticker") == 1


def test_the_generic_adapter_loses_the_same_batch_whole(kraken):
    """What the Kraken adapter adds: without splitting the answer, one bad number fails all."""
    kraken.misbehave("bad_numbers", method="Ticker")
    generic = GenericAdapter("kraken", base_url=kraken.url, timeout=2, throttle=False)
    with pytest.raises(BadResponse):
        run(generic, lambda a: a.tickers(SIX, now=NOW))


def test_a_symbol_not_in_the_markets_is_unknown_by_name(kraken):
    with pytest.raises(UnknownSymbol) as refused:
        run(kraken_adapter(kraken), lambda a: a.tickers(["BTC/USD", "NOPE/USD"], now=NOW))
    assert refused.value.symbols == ["NOPE/USD"]
    assert kraken.request_count("Ticker") == 0


@pytest.mark.parametrize(("timeframe", "step"), [("1m", 60), ("5m", 300)])
def test_candles_are_utc_aligned_and_what_kraken_served(kraken, timeframe, step):
    candles = run(kraken_adapter(kraken), lambda a: a.candles("BTC/USD", timeframe=timeframe))

    assert len(candles) == 720  # Kraken's most recent 720 of the interval
    assert all(b.opened_at - a.opened_at == timedelta(seconds=step) for a, b in pairwise(candles))
    newest = candles[-1].opened_at
    assert newest.tzinfo is UTC and newest.timestamp() % step == 0
    assert datetime.now(UTC) - newest < timedelta(seconds=step + 5)
    for candle in candles[-3:]:
        values = (candle.open, candle.high, candle.low, candle.close, candle.volume)
        assert values == kraken.candle("BTC/USD", int(candle.opened_at.timestamp()), step)
        assert candle.low <= min(candle.open, candle.close) <= candle.high
    asked = [q for m, q, _ in kraken.requests if m == "OHLC"]
    assert asked == [{"pair": "XXBTZUSD", "interval": str(step // 60)}]


def test_candles_since_a_time_and_at_most_720(kraken):
    since = datetime.now(UTC) - timedelta(minutes=30)

    async def body(adapter: KrakenAdapter) -> tuple[list[Any], list[Any], list[Any]]:
        return (
            await adapter.candles("BTC/USD", since=since),
            await adapter.candles("BTC/USD", limit=3),
            await adapter.candles("BTC/USD", limit=5000),
        )

    recent, three, capped = run(kraken_adapter(kraken), body)
    assert recent[0].opened_at >= since > recent[0].opened_at - timedelta(minutes=1)
    assert 30 <= len(recent) <= 32
    assert len(three) == 3 and three[-1].opened_at == recent[-1].opened_at
    assert len(capped) == 720


def test_bad_numbers_in_candles_are_refused(kraken):
    kraken.misbehave("bad_numbers", method="OHLC")
    with pytest.raises(BadResponse, match="candle close"):
        run(kraken_adapter(kraken), lambda a: a.candles("BTC/USD", limit=10))


def test_candles_of_an_unknown_pair_or_timeframe(kraken):
    with pytest.raises(UnknownSymbol):
        run(kraken_adapter(kraken), lambda a: a.candles("NOPE/USD"))
    with pytest.raises(ValueError, match="'7m'"):
        run(kraken_adapter(kraken), lambda a: a.candles("BTC/USD", timeframe="7m"))


def test_a_client_kept_across_event_loops_loads_its_markets_once(kraken):
    """As a Celery worker keeps one per exchange: each task runs on an event loop of its own
    and releases the connections at its end."""
    client = ExchangeClient("kraken", base_url=kraken.url, timeout=2, throttle=False)

    async def task():
        try:
            return await client.tickers(["BTC/USD", "ETH/USD"], now=NOW)
        finally:
            await client.release()

    batches = [asyncio.run(task()) for _ in range(3)]
    asyncio.run(client.close())

    assert [len(batch.tickers) for batch in batches] == [2, 2, 2]
    assert kraken.request_count("AssetPairs") == 1
    assert kraken.request_count("Ticker") == 3
