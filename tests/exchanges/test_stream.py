"""A ticker stream over the real ccxt.pro client and a stand-in Kraken socket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.waiting import wait_until
from tracker.exchanges import Ticker, UnknownSymbol
from tracker.exchanges.stream import TickerStream

from .streaming import kraken_stream, take_until


def test_ccxt_pro_kraken_reads_tickers_from_websocket_v2():
    stream = TickerStream("kraken", symbols=["BTC/USD"])
    assert stream.ws_url == "wss://ws.kraken.com/v2"


def test_tickers_arrive_as_valid_tickers(kraken, kraken_ws):
    kraken.prices.set("BTC/USD", 42000.5, 1234.5)
    changes: list[bool] = []

    async def main():
        before = datetime.now(UTC)
        async with kraken_stream(kraken, kraken_ws, on_change=changes.append) as stream:
            seen: dict[str, Ticker] = {}

            def both(ticker):
                seen[ticker.symbol] = ticker
                return len(seen) == 2

            await take_until(aiter(stream), both, what="BTC/USD and ETH/USD")
            assert stream.connected
        return before, seen, stream

    before, seen, stream = asyncio.run(main())
    btc = seen["BTC/USD"]
    assert (btc.last, btc.base_volume) == (42000.5, 1234.5)
    assert seen["ETH/USD"].last == 1850.2
    # Kraken's v2 ticker has no time of its own: stamped on arrival, in UTC.
    assert btc.timestamp.tzinfo is UTC
    assert before <= btc.timestamp <= datetime.now(UTC)
    assert changes == [True, False]  # up, then down when closed
    assert not stream.connected
    wait_until(lambda: not kraken_ws.subscribed(), timeout=5, what="the socket closed")


def test_close_ends_the_iteration_of_a_waiting_consumer(kraken, kraken_ws):
    kraken_ws.rate = 0  # the snapshots, then nothing: the consumer waits

    async def main():
        stream = kraken_stream(kraken, kraken_ws)
        got: list[Ticker] = []

        async def consume():
            async for ticker in stream:
                got.append(ticker)

        consumer = asyncio.ensure_future(consume())
        async with asyncio.timeout(10):
            while len(got) < 2:
                await asyncio.sleep(0.01)
            await stream.close()
            await consumer  # ends on its own, without being cancelled
        return got

    assert {t.symbol for t in asyncio.run(main())} == {"BTC/USD", "ETH/USD"}


def test_a_symbol_the_exchange_does_not_list_is_an_unknown_symbol(kraken, kraken_ws):
    async def main():
        async with kraken_stream(kraken, kraken_ws, symbols=["BTC/USD", "NOPE/USD"]) as stream:
            async with asyncio.timeout(10):
                async for _ in stream:
                    pass

    with pytest.raises(UnknownSymbol) as refused:
        asyncio.run(main())
    assert refused.value.symbols == ["NOPE/USD"]
    assert not refused.value.transient


def test_a_symbol_the_socket_refuses_is_an_unknown_symbol(kraken, kraken_ws):
    # Listed in the REST markets, refused by the socket: Kraken's lists do not always agree.
    kraken_ws.delist("LTC/USD")
    changes: list[bool] = []

    async def main():
        stream = kraken_stream(kraken, kraken_ws, symbols=["LTC/USD"], on_change=changes.append)
        async with stream:
            async with asyncio.timeout(10):
                async for _ in stream:
                    pass

    with pytest.raises(UnknownSymbol) as refused:
        asyncio.run(main())
    assert refused.value.symbols == ["LTC/USD"]
    assert "Currency pair not supported LTC/USD" in refused.value.detail
    assert kraken_ws.connections == 1  # refused once, not retried
    assert changes == []


def test_a_burst_of_updates_loses_none(kraken, kraken_ws):
    # ccxt hands updates to whoever waits at that moment; a burst handled in one go would
    # lose all but one to a consumer that reads them one call at a time.
    kraken_ws.rate = 3000

    async def main():
        received = 0
        async with kraken_stream(kraken, kraken_ws) as stream:
            tickers = aiter(stream)
            async with asyncio.timeout(20):
                async for _ in tickers:
                    received += 1
                    if received == 1000:
                        kraken_ws.rate = 0  # stop sending; what was sent must all arrive
                    if kraken_ws.rate == 0 and received == kraken_ws.sent_updates + 2:
                        break  # every update sent (and the two snapshots) arrived
            assert stream.failures == 0

    asyncio.run(main())
