"""Recorded hourly candles replayed as live prices, compressed in time.

Every pair replays the same real BTC/USD history, each from its own starting point and scaled
to its own price level, so the pairs move like a real market and differently from each other.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from pathlib import Path

# (hours into the history where the pair starts, typical price of the pair)
PROFILES: dict[str, tuple[int, float | None]] = {
    "BTC/USD": (0, None),  # the recording itself
    "ETH/USD": (2500, 2000.0),
    "LTC/USD": (5000, 80.0),
    "XRP/USD": (7500, 0.5),
    "SOL/USD": (10000, 100.0),
    "ADA/USD": (12500, 0.4),
    "DOT/USD": (15000, 6.0),
    "DOGE/USD": (17500, 0.08),
}


class ReplayPrices:
    """A PriceSource: one wall-clock second is `speed` seconds of recorded market history."""

    def __init__(
        self,
        csv_path: str | Path,
        *,
        speed: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        with open(csv_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        if len(rows) < 25:
            raise ValueError(f"{csv_path}: need at least 25 hourly candles, found {len(rows)}")
        self.closes = [float(row["close"]) for row in rows]
        volumes = [float(row["volume_base"]) for row in rows]
        self._volume_prefix = [0.0]
        for volume in volumes:
            self._volume_prefix.append(self._volume_prefix[-1] + volume)
        self.mean_close = sum(self.closes) / len(self.closes)
        self.speed = speed
        self.clock = clock
        self.started = clock()

    def quote(self, symbol: str) -> tuple[float, float]:
        offset, level = PROFILES.get(symbol, (len(self.closes) // 2, 1.0))
        scale = 1.0 if level is None else level / self.mean_close
        hours = (self.clock() - self.started) * self.speed / 3600 + offset
        n = len(self.closes)
        index = math.floor(hours) % n
        frac = hours - math.floor(hours)
        price = self.closes[index] * (1 - frac) + self.closes[(index + 1) % n] * frac
        return price * scale, self._day_volume(index) / scale

    def _day_volume(self, index: int) -> float:
        """Base volume of the 24 candles up to `index`, wrapping round the start."""
        first = index - 23
        if first >= 0:
            return self._volume_prefix[index + 1] - self._volume_prefix[first]
        n = len(self.closes)
        wrapped = self._volume_prefix[n] - self._volume_prefix[n + first]
        return wrapped + self._volume_prefix[index + 1]
