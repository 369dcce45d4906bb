"""Typed, validated values that leave the exchange layer.

Everything is normalised here: unified symbols ("BTC/USD"), timezone-aware UTC datetimes, and
finite numbers. A price that is NaN, infinite, zero or negative never gets past `Ticker.build`
or `Candle.build`.
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


def _price_or_none(value: object, *, field: str, symbol: str) -> float | None:
    """A quote the exchange may leave out (None); when given, a valid price."""
    return None if value is None else _number(value, field=field, symbol=symbol, positive=True)


def _utc(timestamp: datetime) -> datetime:
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return timestamp.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Ticker:
    """One pair's market summary at one moment.

    `bid` and `ask` are the best quotes of the same answer; None only where the exchange's
    ticker has none (Kraken and Bitstamp always send both).
    """

    symbol: str
    timestamp: datetime
    last: float
    base_volume: float
    bid: float | None = None
    ask: float | None = None

    @classmethod
    def build(
        cls,
        *,
        symbol: str,
        timestamp: datetime,
        last: object,
        base_volume: object,
        bid: object = None,
        ask: object = None,
    ) -> Ticker:
        return cls(
            symbol=symbol,
            timestamp=_utc(timestamp),
            last=_number(last, field="last price", symbol=symbol, positive=True),
            base_volume=_number(base_volume, field="base volume", symbol=symbol, positive=False),
            bid=_price_or_none(bid, field="bid", symbol=symbol),
            ask=_price_or_none(ask, field="ask", symbol=symbol),
        )


@dataclass(frozen=True, slots=True)
class TickerBatch:
    """What one batched ticker call produced: the valid tickers and why the others were dropped."""

    tickers: tuple[Ticker, ...]
    rejected: tuple[tuple[str, str], ...] = ()  # (symbol, reason)


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLC candle: `opened_at` is the UTC start of its interval; volume is in the base."""

    symbol: str
    opened_at: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float

    @classmethod
    def build(
        cls,
        *,
        symbol: str,
        opened_at: datetime,
        open: object,
        high: object,
        low: object,
        close: object,
        volume: object,
    ) -> Candle:
        def price(value: object, field: str) -> float:
            return _number(value, field=f"candle {field}", symbol=symbol, positive=True)

        return cls(
            symbol=symbol,
            opened_at=_utc(opened_at),
            open=price(open, "open"),
            high=price(high, "high"),
            low=price(low, "low"),
            close=price(close, "close"),
            volume=_number(volume, field="candle volume", symbol=symbol, positive=False),
        )
