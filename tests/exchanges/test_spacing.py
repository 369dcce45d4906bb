"""Requests keep ccxt's per-exchange spacing, counted from the previous request."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from itertools import pairwise

from tracker.exchanges import ExchangeClient
from tracker.exchanges.spacing import RequestSpacing


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_request_waits_only_for_what_is_left_of_the_spacing():
    fake = FakeTime()
    spacing = RequestSpacing(1.0, clock=fake.clock, sleep=fake.sleep)

    async def main() -> None:
        await spacing()  # the first request goes at once
        fake.now += 0.25
        await spacing()  # 0.75 s left
        fake.now += 3.0
        await spacing()  # idle long enough: no wait
        await spacing(2)  # right after: a full spacing
        await spacing()  # the previous one cost 2

    asyncio.run(main())
    assert fake.slept == [0.75, 1.0, 2.0]


def test_polls_one_spacing_apart_do_not_wait_for_the_rate_limit(kraken):
    """Kraken's rateLimit in ccxt is one second; a poll every second must not take longer."""

    async def main() -> list[float]:
        async with ExchangeClient("kraken", base_url=kraken.url, throttle=True) as client:
            await client.markets()  # markets loaded once, as the poller does
            await asyncio.sleep(1.0)
            durations = []
            for _ in range(3):
                started = time.monotonic()
                await client.tickers(["BTC/USD"], now=datetime.now(UTC))
                durations.append(time.monotonic() - started)
                await asyncio.sleep(1.0 - durations[-1])
            return durations

    durations = asyncio.run(main())
    assert max(durations) < 0.5, durations
    ticker_times = [at for method, _, at in kraken.requests if method == "Ticker"]
    assert all(b - a >= 0.99 for a, b in pairwise(ticker_times))


def test_the_spacing_carries_over_to_the_next_event_loop():
    """A client kept from task to task (a Celery worker's) meets a new event loop each time:
    requests queued on one loop and then on the next both keep their spacing."""
    spacing = RequestSpacing(0.05)
    starts: list[float] = []

    async def three_requests() -> None:
        async def request() -> None:
            await spacing()
            starts.append(time.monotonic())

        await asyncio.gather(request(), request(), request())  # queued behind one another

    asyncio.run(three_requests())
    asyncio.run(three_requests())

    assert all(later - earlier >= 0.045 for earlier, later in pairwise(starts)), starts
