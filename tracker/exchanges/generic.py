"""The generic adapter: any exchange ccxt supports, through ccxt's asynchronous client.

It rebases the exchange's URLs on a configured base URL (mirrors, proxies, local stand-ins),
spaces requests by the exchange's rate limit (`spacing.py`), turns ccxt's exceptions into this
package's tree and ccxt's dictionaries into validated values. Adapters for one exchange
(`kraken.py`, `bitstamp.py`) subclass it and override the hooks where that exchange differs.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async

from .base import ExchangeAdapter
from .errors import (
    BadResponse,
    ExchangeError,
    ExchangeUnavailable,
    ExchangeUnreachable,
    RateLimited,
    UnknownSymbol,
    UnsupportedExchange,
)
from .spacing import RequestSpacing
from .stream import TickerStream, stream_supported
from .urls import rebase_urls
from .values import Candle, Ticker, TickerBatch

# What ccxt's parsers raise on payloads they cannot make sense of.
PARSE_ERRORS = (ValueError, TypeError, KeyError, ArithmeticError)

RawTickers = dict[str, dict[str, Any]]  # unified symbol -> ccxt's ticker dictionary


@contextmanager
def translated_errors(exchange: str, symbols: Sequence[str] = ()) -> Iterator[None]:
    """Turn ccxt's (and the transport's) exceptions into this package's tree."""
    try:
        yield
    except ExchangeError:
        raise
    except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
        raise RateLimited(f"{exchange} is rate-limiting: {short(exc)}") from exc
    except ccxt.BadSymbol as exc:
        detail = short(exc).removeprefix(f"{exchange} ")
        raise UnknownSymbol(exchange, list(symbols), detail=detail) from exc
    except ccxt.BadResponse as exc:
        raise BadResponse(f"{exchange} sent an unreadable answer: {short(exc)}") from exc
    except ccxt.NetworkError as exc:
        if isinstance(exc.__cause__, (socket.gaierror, aiohttp.ClientConnectorError)):
            raise ExchangeUnreachable(f"{exchange} is unreachable: {short(exc)}") from exc
        raise ExchangeUnavailable(f"{exchange} is unavailable: {short(exc)}") from exc
    except ccxt.BaseError as exc:
        raise ExchangeError(f"{exchange} returned an error: {short(exc)}") from exc
    except PARSE_ERRORS as exc:
        # ccxt's parsers raise plain exceptions on payloads they cannot make sense of.
        raise BadResponse(f"{exchange} sent a malformed payload: {short(exc)}") from exc


def short(exc: BaseException, limit: int = 240) -> str:
    """Exception text and its cause, without the multi-kilobyte HTML bodies ccxt includes."""
    text = " ".join(str(exc).split())
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({type(cause).__name__}: {' '.join(str(cause).split())})"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tickers_by_symbol(
    objects: Any, key: str, values: Sequence[str] | None = None
) -> dict[str, Any]:
    """ccxt's `filter_by_array_tickers` in linear time.

    ccxt's own looks every ticker up in the list of wanted symbols: 10,000 pairs cost 10^8
    comparisons, seconds of CPU in every tick.
    """
    items = objects.values() if isinstance(objects, dict) else objects
    wanted = set(values) if values else None
    return {item[key]: item for item in items if wanted is None or item[key] in wanted}


class GenericAdapter(ExchangeAdapter):
    """Any exchange ccxt supports, polled through ccxt's asynchronous client.

    `throttle` keeps ccxt's per-exchange spacing of requests (its `rateLimit`; Kraken: one per
    second), which stays inside public rate limits; a local stand-in needs none. The spacing
    is counted from the previous request (`RequestSpacing`), so polls at least that far apart
    never wait.
    """

    # Error codes ccxt leaves as a generic ExchangeError but that mean "no such symbol".
    unknown_symbol_codes: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, exchange_id: str, *, base_url: str = "", timeout: float = 10.0, throttle: bool = True
    ) -> None:
        if exchange_id not in ccxt_async.exchanges:
            raise UnsupportedExchange(f"unknown exchange id {exchange_id!r}")
        super().__init__(exchange_id, base_url=base_url, timeout=timeout, throttle=throttle)
        self._base_url = base_url
        self._timeout = timeout
        self._api: Any = self.ccxt_class()(
            {"enableRateLimit": throttle, "timeout": int(timeout * 1000)}
        )
        self._api.filter_by_array_tickers = _tickers_by_symbol
        if throttle:
            self._api.throttle = RequestSpacing(self._api.rateLimit / 1000)
        if self.unknown_symbol_codes:
            exact = dict(self._api.exceptions.get("exact", {}))
            exact.update(dict.fromkeys(self.unknown_symbol_codes, ccxt.BadSymbol))
            self._api.exceptions = {**self._api.exceptions, "exact": exact}
        if base_url:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"exchange base URL must be http(s)://host[:port], got {base_url!r}"
                )
            public = self._api.urls["api"]
            primary = public.get("public") if isinstance(public, dict) else public
            self._api.urls["api"] = rebase_urls(public, urlsplit(str(primary)).netloc, base_url)

    def ccxt_class(self) -> type[Any]:
        """The ccxt client class; an adapter may return a subclass that fixes ccxt's reading
        of its exchange."""
        exchange_class = getattr(ccxt_async, self.name, None)
        if exchange_class is None:
            raise UnsupportedExchange(f"unknown exchange id {self.name!r}")
        return exchange_class

    @property
    def has_stream(self) -> bool:
        return stream_supported(self.name)

    def ticker_stream(
        self,
        symbols: Sequence[str],
        *,
        ws_url: str = "",
        silence: float = 30.0,
        on_change: Callable[[bool], object] | None = None,
    ) -> TickerStream:
        if not self.has_stream:
            raise UnsupportedExchange(f"{self.name} has no ticker stream in ccxt.pro")
        return TickerStream(
            self.name,
            symbols=symbols,
            ws_url=ws_url,
            base_url=self._base_url,
            silence=silence,
            timeout=self._timeout,
            on_change=on_change,
        )

    @property
    def url(self) -> str:
        public = self._api.urls["api"]
        return str(public.get("public") if isinstance(public, dict) else public)

    async def close(self) -> None:
        await self._api.close()

    async def release(self) -> None:
        api = self._api
        if api.session is not None:
            await api.session.close()
            api.session = None
        await api.close_connector()
        if api.markets_loading is not None and not api.markets_loading.done():
            api.markets_loading = None  # a load cut short belongs to the loop that ends here
        api.asyncio_loop = None  # ccxt binds the next session to the loop running then

    async def markets(self, *, reload: bool = False) -> frozenset[str]:
        with translated_errors(self.name):
            markets = await self._api.load_markets(reload)
        return frozenset(markets)

    async def tickers(self, symbols: Sequence[str], *, now: datetime) -> TickerBatch:
        if not symbols:
            return TickerBatch(tickers=())
        with translated_errors(self.name, symbols):
            listed = await self._api.load_markets()
            unknown = [symbol for symbol in symbols if symbol not in listed]
            if unknown:
                raise UnknownSymbol(self.name, unknown, detail="not in its markets")
            raw, rejected = await self.raw_tickers(symbols)
        if not isinstance(raw, dict) or not any(symbol in raw for symbol in symbols):
            # ccxt returns what it could parse; a body it could not read comes back empty.
            raise BadResponse(f"{self.name} sent no usable tickers")
        tickers: list[Ticker] = []
        refused = {symbol for symbol, _ in rejected}
        for symbol in symbols:
            entry = raw.get(symbol)
            if symbol in refused:
                continue
            if not isinstance(entry, dict):
                rejected.append((symbol, "missing from the exchange's answer"))
                continue
            try:
                tickers.append(
                    Ticker.build(
                        symbol=symbol,
                        timestamp=now,
                        last=entry.get("last"),
                        base_volume=entry.get("baseVolume"),
                        bid=entry.get("bid"),
                        ask=entry.get("ask"),
                    )
                )
            except BadResponse as exc:
                rejected.append((symbol, str(exc)))
        return TickerBatch(tickers=tuple(tickers), rejected=tuple(rejected))

    async def raw_tickers(self, symbols: Sequence[str]) -> tuple[RawTickers, list[tuple[str, str]]]:
        """ccxt's tickers of `symbols` from one batched call, and (symbol, reason) for those
        that could not be parsed. Here one unparseable entry fails the whole call; adapters
        that can split the exchange's answer parse it entry by entry (`parse_entries`)."""
        return await self._api.fetch_tickers(list(symbols)), []

    def parse_entries(
        self, entries: Iterable[tuple[dict[str, Any] | None, Any]], wanted: Sequence[str]
    ) -> tuple[RawTickers, list[tuple[str, str]]]:
        """Parse raw ticker entries one by one, so one bad entry costs only its own pair.

        `entries` are (ccxt market or None, raw entry); entries of other symbols are skipped.
        """
        chosen = set(wanted)
        parsed: RawTickers = {}
        rejected: list[tuple[str, str]] = []
        for market, entry in entries:
            symbol = market.get("symbol") if market else None
            if symbol not in chosen:
                continue
            try:
                parsed[symbol] = self._api.parse_ticker(entry, market)
            except PARSE_ERRORS as exc:
                rejected.append((symbol, f"{symbol}: unparseable ticker ({short(exc)})"))
        return parsed, rejected

    async def candles(
        self,
        symbol: str,
        *,
        timeframe: str = "1m",
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        if timeframe not in (self._api.timeframes or {}):
            raise ValueError(f"{self.name} has no {timeframe!r} candles")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if self.candle_limit is not None:
            limit = self.candle_limit if limit is None else min(limit, self.candle_limit)
        since_ms = None if since is None else int(since.timestamp() * 1000)
        with translated_errors(self.name, [symbol]):
            listed = await self._api.load_markets()
            if symbol not in listed:
                raise UnknownSymbol(self.name, [symbol], detail="not in its markets")
            rows = await self._api.fetch_ohlcv(symbol, timeframe, since_ms, limit)
        if not isinstance(rows, list):
            raise BadResponse(f"{self.name} sent no usable candles")
        return [self._candle(symbol, row) for row in rows]

    def _candle(self, symbol: str, row: Any) -> Candle:
        try:
            opened_ms, open_, high, low, close, volume = row[:6]
            opened_at = datetime.fromtimestamp(int(opened_ms) / 1000, UTC)
        except (*PARSE_ERRORS, OverflowError, OSError) as exc:
            raise BadResponse(f"{self.name} sent a malformed candle of {symbol}: {row!r}") from exc
        return Candle.build(
            symbol=symbol,
            opened_at=opened_at,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
        )
