"""Sampling a ticker stream into one value per symbol per interval. No Django in here.

A stream can push many updates a second per pair; the tracker stores one record per pair per
`TRACKER_SAMPLE_INTERVAL`: the last value seen in that interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator

from .values import Ticker


async def latest_per_interval(
    tickers: AsyncIterable[Ticker], interval: float = 1.0
) -> AsyncIterator[dict[str, Ticker]]:
    """At the end of each `interval` seconds, {symbol: last ticker seen in it}.

    Only symbols with at least one ticker in the interval are in it, and an interval without
    any yields nothing. Intervals follow one another from the first call on the event loop's
    clock, so a slow consumer does not stretch them; one it missed entirely is skipped. When
    `tickers` ends, what was seen since the last interval is yielded; when it fails, that
    failure is raised.
    """
    if interval <= 0:
        raise ValueError("interval must be a positive number of seconds")
    loop = asyncio.get_running_loop()
    latest: dict[str, Ticker] = {}

    async def pump() -> None:
        async for ticker in tickers:
            latest[ticker.symbol] = ticker

    pumping = asyncio.ensure_future(pump())
    end = loop.time() + interval
    try:
        while True:
            await asyncio.wait({pumping}, timeout=max(0.0, end - loop.time()))
            if pumping.done():
                pumping.result()  # the source's failure, if it failed
                if latest:
                    yield dict(latest)
                return
            if loop.time() < end:
                continue
            sample = dict(latest)
            latest.clear()
            while end <= loop.time():
                end += interval
            if sample:
                yield sample
    finally:
        if not pumping.done():
            pumping.cancel()
            await asyncio.wait({pumping})
