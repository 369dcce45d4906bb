"""Which adapter speaks to which exchange: exchange id -> import string, imported on first use.

An exchange with an adapter of its own is one line in `ADAPTERS`; any other id ccxt knows gets
the generic ccxt adapter; an id ccxt does not know is an UnsupportedExchange. Every adapter
class is built as `cls(exchange_id, *, base_url=..., timeout=..., throttle=...)`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from datetime import datetime

import ccxt.async_support as ccxt_async

from .base import ExchangeAdapter
from .errors import UnsupportedExchange
from .stream import TickerStream
from .values import Candle, TickerBatch

ADAPTERS: dict[str, str] = {
    "kraken": "tracker.exchanges.kraken.KrakenAdapter",
    "bitstamp": "tracker.exchanges.bitstamp.BitstampAdapter",
}
GENERIC_ADAPTER = "tracker.exchanges.generic.GenericAdapter"


def supported_exchanges() -> list[str]:
    """Every exchange id ccxt offers, sorted."""
    return sorted(ccxt_async.exchanges)


@functools.cache
def adapter_class(exchange_id: str) -> type[ExchangeAdapter]:
    """The adapter class for `exchange_id`, imported on first use."""
    if exchange_id not in ADAPTERS and exchange_id not in ccxt_async.exchanges:
        raise UnsupportedExchange(f"unknown exchange id {exchange_id!r}")
    path = ADAPTERS.get(exchange_id, GENERIC_ADAPTER)
    module_name, _, class_name = path.rpartition(".")
    adapter = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(adapter, type) and issubclass(adapter, ExchangeAdapter)):
        raise TypeError(f"{path} is not an ExchangeAdapter")
    return adapter


def adapter_for(
    exchange_id: str, *, base_url: str = "", timeout: float = 10.0, throttle: bool = True
) -> ExchangeAdapter:
    """A new adapter for `exchange_id`; close it when done."""
    return adapter_class(exchange_id)(
        exchange_id, base_url=base_url, timeout=timeout, throttle=throttle
    )


class ExchangeClient(ExchangeAdapter):
    """The adapter the registry chooses for `exchange_id`, behind the same interface: for
    callers that hold an exchange id from the settings rather than an adapter."""

    def __init__(
        self, exchange_id: str, *, base_url: str = "", timeout: float = 10.0, throttle: bool = True
    ) -> None:
        super().__init__(exchange_id)
        self.adapter = adapter_for(
            exchange_id, base_url=base_url, timeout=timeout, throttle=throttle
        )
        self.candle_limit = self.adapter.candle_limit

    @property
    def url(self) -> str:
        return self.adapter.url

    @property
    def has_stream(self) -> bool:
        return self.adapter.has_stream

    async def markets(self, *, reload: bool = False) -> frozenset[str]:
        return await self.adapter.markets(reload=reload)

    async def tickers(self, symbols: Sequence[str], *, now: datetime) -> TickerBatch:
        return await self.adapter.tickers(symbols, now=now)

    async def candles(
        self,
        symbol: str,
        *,
        timeframe: str = "1m",
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        return await self.adapter.candles(symbol, timeframe=timeframe, since=since, limit=limit)

    def ticker_stream(
        self,
        symbols: Sequence[str],
        *,
        ws_url: str = "",
        silence: float = 30.0,
        on_change: Callable[[bool], object] | None = None,
    ) -> TickerStream:
        return self.adapter.ticker_stream(
            symbols, ws_url=ws_url, silence=silence, on_change=on_change
        )

    async def close(self) -> None:
        await self.adapter.close()

    async def release(self) -> None:
        await self.adapter.release()
