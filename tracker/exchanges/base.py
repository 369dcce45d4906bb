"""The interface every exchange adapter meets.

An adapter speaks to one exchange and returns this package's values (`Ticker`, `TickerBatch`,
`Candle`) on unified symbols and UTC times, raising only this package's errors. Callers hold
an `ExchangeAdapter` and never learn which exchange or library is behind it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self

from .errors import UnknownSymbol, UnsupportedExchange
from .values import Candle, TickerBatch

if TYPE_CHECKING:
    from .stream import TickerStream


class ExchangeAdapter(ABC):
    """One exchange: its markets, batched tickers, OHLC candles and, where it has one, a ticker
    stream.

    `name` is the exchange id ("kraken"); `url` the public REST base URL in use. An adapter
    holds a connection pool: close it (`close()` or `async with`) when done.
    """

    # The most candles one `candles` call returns (the exchange's own limit), if it has one.
    candle_limit: int | None = None

    def __init__(
        self, exchange_id: str, *, base_url: str = "", timeout: float = 10.0, throttle: bool = True
    ) -> None:
        """Every adapter is built the same way (see registry.py): the exchange id, the REST
        base URL when overridden, the request timeout in seconds, and whether to space
        requests by the exchange's rate limit."""
        self.name = exchange_id

    @property
    def has_stream(self) -> bool:
        """True where `ticker_stream` gives a stream."""
        return False

    @property
    @abstractmethod
    def url(self) -> str:
        """The public REST API's base URL, as overridden."""

    @abstractmethod
    async def markets(self, *, reload: bool = False) -> frozenset[str]:
        """The unified symbols the exchange lists, loaded once and cached; `reload` refreshes."""

    @abstractmethod
    async def tickers(self, symbols: Sequence[str], *, now: datetime) -> TickerBatch:
        """The tickers of `symbols`, stamped with the poll time `now`, in as few calls as the
        exchange allows (one where it serves many pairs at once).

        A symbol whose numbers are unusable is dropped with its reason in the batch. Raises
        UnknownSymbol when the exchange refuses a symbol (or its markets do not list it), and
        another ExchangeError when the exchange fails as a whole.
        """

    @abstractmethod
    async def candles(
        self,
        symbol: str,
        *,
        timeframe: str = "1m",
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """OHLC candles of one symbol, oldest first, each opened at or after `since` (the most
        recent ones without it), at most `limit` and never more than `candle_limit`.

        `timeframe` is ccxt's notation ("1m", "5m", "1h"). The newest candle may still be
        forming. One bad number fails the call with BadResponse.
        """

    def ticker_stream(
        self,
        symbols: Sequence[str],
        *,
        ws_url: str = "",
        silence: float = 30.0,
        on_change: Callable[[bool], object] | None = None,
    ) -> TickerStream:
        """The tickers of `symbols` as the exchange pushes them (see stream.TickerStream), on
        `ws_url` when overridden. Raises UnsupportedExchange where `has_stream` is False."""
        raise UnsupportedExchange(f"{self.name} has no ticker stream")

    @abstractmethod
    async def close(self) -> None:
        """Release the adapter's connections."""

    async def release(self) -> None:
        """Close the connections opened on the running event loop but keep what the adapter
        has learned (its markets, the spacing of its requests): the next call opens new ones
        on whichever loop runs it. For an adapter kept across event loops, as a Celery worker
        keeps one per exchange for its tasks, each run on a loop of its own."""
        await self.close()

    async def check_symbols(self, symbols: Sequence[str]) -> None:
        """Raise UnknownSymbol naming every symbol the exchange's markets do not list."""
        listed = await self.markets()
        unknown = [symbol for symbol in symbols if symbol not in listed]
        if unknown:
            raise UnknownSymbol(self.name, unknown)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
