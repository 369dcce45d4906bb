"""The Bitstamp adapter against the stand-in, through the real ccxt client over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, TypeVar

import pytest

from tests.fakes.bitstamp import BitstampPair, FakeBitstamp
from tracker.exchanges import (
    BadResponse,
    ExchangeError,
    ExchangeUnavailable,
    RateLimited,
    UnknownSymbol,
)
from tracker.exchanges.bitstamp import BitstampAdapter

T = TypeVar("T")
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
FIVE = ["BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "SOL/USD"]


def run(fake: FakeBitstamp, body: Callable[[BitstampAdapter], Awaitable[T]]) -> T:
    async def main() -> T:
        async with BitstampAdapter(base_url=fake.url, timeout=1, throttle=False) as adapter:
            return await body(adapter)

    return asyncio.run(main())


def methods(fake: FakeBitstamp) -> list[str]:
    return [method for method, _, _ in fake.requests]


def test_markets_come_from_one_call(bitstamp):
    listed = run(bitstamp, lambda a: a.markets())
    assert listed == frozenset(FIVE)
    assert methods(bitstamp) == ["markets"]


def test_every_tick_after_the_first_is_one_call_for_all_pairs(bitstamp):
    bitstamp.prices.set("BTC/USD", 42000.0, 3563.1)

    async def body(adapter: BitstampAdapter) -> list[Any]:
        return [await adapter.tickers(FIVE, now=NOW + timedelta(minutes=n)) for n in range(3)]

    batches = run(bitstamp, body)

    assert methods(bitstamp) == ["markets", "ticker", "ticker", "ticker"]
    assert all(query == {} for method, query, _ in bitstamp.requests if method == "ticker")
    first = batches[0]
    assert [t.symbol for t in first.tickers] == FIVE and first.rejected == ()
    btc = first.tickers[0]
    assert (btc.timestamp, btc.last, btc.base_volume) == (NOW, 42000.0, 3563.1)
    assert (btc.bid, btc.ask) == (pytest.approx(42000 * 0.9998), pytest.approx(42000 * 1.0002))
    assert batches[2].tickers[0].timestamp == NOW + timedelta(minutes=2)


def test_only_the_asked_pairs_come_back_from_many(bitstamp):
    pairs = [BitstampPair(f"C{n:04d}/USD") for n in range(3000)]
    with FakeBitstamp(pairs=pairs) as many:
        wanted = [pair.symbol for pair in pairs[::3]]
        batch = run(many, lambda a: a.tickers(wanted, now=NOW))
    assert [t.symbol for t in batch.tickers] == wanted
    assert methods(many) == ["markets", "ticker"]


def test_a_partly_bad_batch_costs_only_the_bad_pairs(bitstamp):
    bitstamp.misbehave("bad_numbers", method="ticker")
    batch = run(bitstamp, lambda a: a.tickers(FIVE, now=NOW))
    assert [t.symbol for t in batch.tickers] == ["SOL/USD"]
    assert {symbol for symbol, _ in batch.rejected} == set(FIVE[:4])


ERRORS = [
    pytest.param({"mode": "http_error", "status": 503}, ExchangeUnavailable, id="http-503"),
    pytest.param({"mode": "http_error", "status": 500}, ExchangeUnavailable, id="http-500"),
    pytest.param({"mode": "html", "status": 502}, ExchangeUnavailable, id="html-page"),
    pytest.param({"mode": "garbage"}, BadResponse, id="not-json"),
    pytest.param({"mode": "truncated"}, BadResponse, id="truncated-json"),
    pytest.param({"mode": "rate_limit"}, RateLimited, id="rate-limit-429"),
    pytest.param({"mode": "error_body", "status": 503}, ExchangeUnavailable, id="error-body-503"),
    pytest.param({"mode": "error_body", "status": 200}, ExchangeUnavailable, id="maintenance-body"),
    pytest.param({"mode": "delay", "delay": 2.0}, ExchangeUnavailable, id="timeout"),
]


@pytest.mark.parametrize(("misbehaviour", "error"), ERRORS)
def test_a_failing_bitstamp_is_one_of_the_packages_errors(bitstamp, misbehaviour, error):
    async def body(adapter: BitstampAdapter) -> None:
        await adapter.markets()
        bitstamp.misbehave(method="ticker", times=1, **misbehaviour)
        with pytest.raises(error) as failed:
            await adapter.tickers(FIVE, now=NOW)
        assert type(failed.value) is error  # the class itself, not a subclass of it
        assert "bitstamp" in str(failed.value)
        assert len((await adapter.tickers(FIVE, now=NOW)).tickers) == 5  # and it recovers

    run(bitstamp, body)


def test_an_error_body_it_does_not_know_is_an_exchange_error(bitstamp):
    bitstamp.misbehave("error_body", method="ticker", status=400, message="Something new.")
    with pytest.raises(ExchangeError, match="Something new"):
        run(bitstamp, lambda a: a.tickers(FIVE, now=NOW))


def test_a_symbol_not_in_the_markets_is_unknown_by_name(bitstamp):
    with pytest.raises(UnknownSymbol) as refused:
        run(bitstamp, lambda a: a.tickers(["BTC/USD", "NOPE/USD"], now=NOW))
    assert refused.value.symbols == ["NOPE/USD"]
    assert "ticker" not in methods(bitstamp)


def test_a_pair_left_out_of_the_ticker_list_is_unknown(bitstamp):
    async def body(adapter: BitstampAdapter) -> None:
        await adapter.markets()
        bitstamp.delist("LTC/USD")
        with pytest.raises(UnknownSymbol) as refused:  # the cached markets still list it
            await adapter.tickers(FIVE, now=NOW)
        assert refused.value.symbols == ["LTC/USD"]
        assert refused.value.detail == "its ticker list without the pair"
        assert "LTC/USD" not in await adapter.markets(reload=True)
        with pytest.raises(UnknownSymbol, match="does not list LTC/USD"):
            await adapter.tickers(FIVE, now=NOW)
        assert len((await adapter.tickers(["BTC/USD"], now=NOW)).tickers) == 1

    run(bitstamp, body)


def test_an_unknown_pair_answered_404_is_unknown_with_bitstamps_words(bitstamp):
    async def body(adapter: BitstampAdapter) -> None:
        await adapter.markets()
        bitstamp.delist("LTC/USD", still_in_markets=True)
        with pytest.raises(UnknownSymbol) as refused:
            await adapter.candles("LTC/USD")
        assert refused.value.symbols == ["LTC/USD"]
        assert "Pair not found." in refused.value.detail
        assert not refused.value.transient

    run(bitstamp, body)


def test_one_minute_candles_are_utc_aligned_and_what_bitstamp_served(bitstamp):
    candles = run(bitstamp, lambda a: a.candles("BTC/USD", timeframe="1m"))

    assert len(candles) == 1000  # Bitstamp's most per call
    assert all(b.opened_at - a.opened_at == timedelta(minutes=1) for a, b in pairwise(candles))
    newest = candles[-1].opened_at
    assert newest.tzinfo is UTC and newest.second == 0 and newest.microsecond == 0
    assert datetime.now(UTC) - newest < timedelta(seconds=65)
    for candle in candles[-3:]:
        values = (candle.open, candle.high, candle.low, candle.close, candle.volume)
        assert values == bitstamp.candle("BTC/USD", int(candle.opened_at.timestamp()), 60)
    ((_, query, _),) = [r for r in bitstamp.requests if r[0] == "ohlc"]
    assert query == {"pair": "btcusd", "step": "60", "limit": "1000"}


def test_candles_since_a_time_with_a_limit(bitstamp):
    since = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    candles = run(bitstamp, lambda a: a.candles("BTC/USD", since=since, limit=60))

    assert len(candles) == 60
    assert candles[0].opened_at == since
    assert candles[-1].opened_at == since + timedelta(minutes=59)
    ((_, query, _),) = [r for r in bitstamp.requests if r[0] == "ohlc"]
    assert query["start"] == str(int(since.timestamp())) and query["limit"] == "60"


def test_bad_numbers_in_candles_are_refused(bitstamp):
    bitstamp.misbehave("bad_numbers", method="ohlc")
    with pytest.raises(BadResponse, match="candle close"):
        run(bitstamp, lambda a: a.candles("BTC/USD", limit=10))
