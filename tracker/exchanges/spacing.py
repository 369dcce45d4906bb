"""Spacing of requests to one exchange: ccxt's rate limit, counted from the last request.

ccxt spaces requests by the exchange's `rateLimit` (milliseconds per request; Kraken's public
API: 1000, one request per second). Its own leaky bucket only refills while requests are
queued, so a request after an idle pause still waits a whole `rateLimit`: a poll every second
then takes over a second and every other tick is skipped. Here the pause counts: a request
waits only for what is left of the spacing since the previous one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable


class RequestSpacing:
    """Called before each request (ccxt's `throttle(cost)` hook); waits until it may go.

    A request of cost c keeps the next one at least `spacing * c` seconds after its start.
    """

    def __init__(
        self,
        spacing: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.spacing = spacing
        self.clock = clock
        self.sleep = sleep
        self._next = -math.inf
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, cost: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a client kept across event loops: the spacing carries over
            self._loop = loop
            self._lock = asyncio.Lock()
        async with self._lock:  # concurrent requests queue in order
            wait = self._next - self.clock()
            if wait > 0:
                await self.sleep(wait)
            self._next = self.clock() + self.spacing * (1.0 if cost is None else cost)
