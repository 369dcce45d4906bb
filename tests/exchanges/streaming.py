"""What the stream tests share: a stream on the stand-ins, and taking tickers with deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from tests.fakes.kraken import FakeKraken
from tests.fakes.kraken_ws import FakeKrakenWS
from tracker.common.backoff import Backoff
from tracker.exchanges.stream import TickerStream
from tracker.exchanges.values import Ticker

QUICK = Backoff(base=0.05, cap=0.2)


def kraken_stream(
    kraken: FakeKraken, kraken_ws: FakeKrakenWS, *, symbols: list[str] | None = None, **options: Any
) -> TickerStream:
    options.setdefault("backoff", QUICK)
    return TickerStream(
        "kraken",
        symbols=symbols or ["BTC/USD", "ETH/USD"],
        base_url=kraken.url,
        ws_url=kraken_ws.url,
        **options,
    )


async def take_until(
    tickers: AsyncIterator[Ticker],
    done: Callable[[Ticker], object],
    *,
    timeout: float = 10.0,
    what: str = "a ticker",
) -> list[Ticker]:
    """Tickers from `tickers` up to and including the first for which `done` is true."""
    taken: list[Ticker] = []
    try:
        async with asyncio.timeout(timeout):
            async for ticker in tickers:
                taken.append(ticker)
                if done(ticker):
                    return taken
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
    raise AssertionError(f"the stream ended before {what}")
