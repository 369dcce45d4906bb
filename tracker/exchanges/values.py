"""Typed, validated values that leave the exchange layer.

Everything is normalised here: unified symbols ("BTC/USD"), timezone-aware UTC datetimes, and
finite numbers. A price that is NaN, infinite, zero or negative never gets past `Ticker.build`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import BadResponse


def _number(value: object, *, field: str, symbol: str, positive: bool) -> float:
    """A finite float from an exchange payload, or BadResponse naming what was wrong."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadResponse(f"{symbol}: {field} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise BadResponse(f"{symbol}: {field} is not finite: {value!r}")
    if positive and number <= 0:
        raise BadResponse(f"{symbol}: {field} must be positive, got {value!r}")
    if number < 0:
        raise BadResponse(f"{symbol}: {field} must not be negative, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class Ticker:
    """One pair's market summary at one moment."""

    symbol: str
    timestamp: datetime
    last: float
    base_volume: float

    @classmethod
    def build(
        cls, *, symbol: str, timestamp: datetime, last: object, base_volume: object
    ) -> Ticker:
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        return cls(
            symbol=symbol,
            timestamp=timestamp.astimezone(UTC),
            last=_number(last, field="last price", symbol=symbol, positive=True),
            base_volume=_number(base_volume, field="base volume", symbol=symbol, positive=False),
        )


@dataclass(frozen=True, slots=True)
class TickerBatch:
    """What one batched ticker call produced: the valid tickers and why the others were dropped."""

    tickers: tuple[Ticker, ...]
    rejected: tuple[tuple[str, str], ...] = ()  # (symbol, reason)
