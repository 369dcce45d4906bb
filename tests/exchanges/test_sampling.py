"""The sampler keeps the last ticker per symbol in each interval, and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tracker.exchanges import Ticker, UnknownSymbol
from tracker.exchanges.sampling import latest_per_interval

from .streaming import kraken_stream


def ticker(symbol: str, last: float) -> Ticker:
    return Ticker.build(symbol=symbol, timestamp=datetime.now(UTC), last=last, base_volume=1)


def prices(sample: dict[str, Ticker]) -> dict[str, float]:
    return {symbol: t.last for symbol, t in sample.items()}


def test_the_last_value_of_each_symbol_per_interval():
    async def main():
        first_out = asyncio.Event()

        async def source() -> AsyncIterator[Ticker]:
            for t in (ticker("BTC/USD", 1), ticker("ETH/USD", 5), ticker("BTC/USD", 2)):
                yield t
            await first_out.wait()
            yield ticker("BTC/USD", 3)
            yield ticker("BTC/USD", 4)
            await asyncio.sleep(0.5)  # a whole interval with nothing after it

        samples = []
        async with asyncio.timeout(10):
            async for sample in latest_per_interval(source(), interval=0.2):
                samples.append(prices(sample))
                first_out.set()
        return samples

    # Only symbols that moved in the interval; an interval without any is not yielded.
    assert asyncio.run(main()) == [{"BTC/USD": 2, "ETH/USD": 5}, {"BTC/USD": 4}]


def test_what_was_seen_before_the_source_ends_is_yielded():
    async def main():
        async def source() -> AsyncIterator[Ticker]:
            yield ticker("BTC/USD", 1)

        async with asyncio.timeout(10):
            return [prices(s) async for s in latest_per_interval(source(), interval=60)]

    assert asyncio.run(main()) == [{"BTC/USD": 1}]


def test_a_failing_source_fails_the_sampler():
    async def main():
        async def source() -> AsyncIterator[Ticker]:
            yield ticker("BTC/USD", 1)
            raise UnknownSymbol("kraken", ["BTC/USD"])

        async with asyncio.timeout(10):
            async for _ in latest_per_interval(source(), interval=60):
                pass

    with pytest.raises(UnknownSymbol):
        asyncio.run(main())


def test_intervals_must_be_positive():
    async def main():
        async def source() -> AsyncIterator[Ticker]:
            yield ticker("BTC/USD", 1)

        async for _ in latest_per_interval(source(), interval=0):
            pass

    with pytest.raises(ValueError, match="positive"):
        asyncio.run(main())


def test_sampling_a_live_stream(kraken, kraken_ws):
    kraken_ws.rate = 200

    async def main():
        samples: list[dict[str, float]] = []
        async with kraken_stream(kraken, kraken_ws) as stream:
            async with asyncio.timeout(10):
                async for sample in latest_per_interval(stream, interval=0.25):
                    samples.append(prices(sample))
                    if len(samples) == 1:
                        kraken.prices.set("BTC/USD", 50000.0)
                    if sample.get("BTC/USD") and sample["BTC/USD"].last == 50000.0:
                        break
        return samples

    samples = asyncio.run(main())
    # Dozens of updates per interval, one value per symbol out of each.
    assert all(set(s) <= {"BTC/USD", "ETH/USD"} for s in samples)
    assert samples[0]["BTC/USD"] == 27712.1
    assert samples[-1]["BTC/USD"] == 50000.0
