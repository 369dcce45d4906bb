"""A thin asynchronous client over ccxt that speaks in this package's values and errors.

Nothing here knows about Django: the caller passes the exchange id, an optional base URL (for
mirrors, proxies and local stand-ins) and the time of the poll.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async

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
from .values import Ticker, TickerBatch

logger = logging.getLogger(__name__)

# What ccxt's parsers raise on payloads they cannot make sense of.
PARSE_ERRORS = (ValueError, TypeError, KeyError, ArithmeticError)


def _kraken_ticker_entries(body: Any) -> dict[str, Any]:
    result = body.get("result") if isinstance(body, dict) else None
    return result if isinstance(result, dict) else {}


# Per exchange: how to split a raw ticker answer into {market id: raw ticker}, so that one bad
# entry costs only its own pair. Exchanges without one lose the whole poll to a bad entry.
TICKER_ENTRIES: dict[str, Callable[[Any], dict[str, Any]]] = {"kraken": _kraken_ticker_entries}


# Per exchange: error codes ccxt leaves as a generic ExchangeError but that mean "no such
# symbol" (ccxt maps Kraken's "EQuery:Unknown asset" and "EQuery:Invalid asset pair", not the
# "EQuery:Unknown asset pair" its Ticker answers for a pair it stopped listing).
UNKNOWN_SYMBOL_CODES: dict[str, tuple[str, ...]] = {"kraken": ("EQuery:Unknown asset pair",)}


@contextmanager
def _translated_errors(exchange: str, symbols: Sequence[str] = ()) -> Iterator[None]:
    """Turn ccxt's (and the transport's) exceptions into this package's tree."""
    try:
        yield
    except ExchangeError:
        raise
    except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
        raise RateLimited(f"{exchange} is rate-limiting: {_short(exc)}") from exc
    except ccxt.BadSymbol as exc:
        detail = _short(exc).removeprefix(f"{exchange} ")
        raise UnknownSymbol(exchange, list(symbols), detail=detail) from exc
    except ccxt.BadResponse as exc:
        raise BadResponse(f"{exchange} sent an unreadable answer: {_short(exc)}") from exc
    except ccxt.NetworkError as exc:
        if isinstance(exc.__cause__, (socket.gaierror, aiohttp.ClientConnectorError)):
            raise ExchangeUnreachable(f"{exchange} is unreachable: {_short(exc)}") from exc
        raise ExchangeUnavailable(f"{exchange} is unavailable: {_short(exc)}") from exc
    except ccxt.BaseError as exc:
        raise ExchangeError(f"{exchange} returned an error: {_short(exc)}") from exc
    except PARSE_ERRORS as exc:
        # ccxt's parsers raise plain exceptions on payloads they cannot make sense of.
        raise BadResponse(f"{exchange} sent a malformed payload: {_short(exc)}") from exc


def _short(exc: BaseException, limit: int = 240) -> str:
    """Exception text and its cause, without the multi-kilobyte HTML bodies ccxt includes."""
    text = " ".join(str(exc).split())
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({type(cause).__name__}: {' '.join(str(cause).split())})"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rebase(urls: Any, primary_netloc: str, base_url: str) -> Any:
    """Point every URL on the exchange's primary host at `base_url`, keeping each path."""
    if isinstance(urls, dict):
        return {key: _rebase(value, primary_netloc, base_url) for key, value in urls.items()}
    if isinstance(urls, str):
        parts = urlsplit(urls)
        if parts.netloc == primary_netloc:
            return base_url.rstrip("/") + parts.path
    return urls


class ExchangeClient:
    """One exchange, polled through ccxt's asynchronous client.

    `throttle` keeps ccxt's per-exchange spacing of requests (its `rateLimit`; Kraken: one per
    second), which stays inside public rate limits; a local stand-in needs none. The spacing
    is counted from the previous request (`RequestSpacing`), so polls at least that far apart
    never wait.
    """

    def __init__(
        self, exchange_id: str, *, base_url: str = "", timeout: float = 10.0, throttle: bool = True
    ) -> None:
        exchange_class = getattr(ccxt_async, exchange_id, None)
        if exchange_id not in ccxt_async.exchanges or exchange_class is None:
            raise UnsupportedExchange(f"unknown exchange id {exchange_id!r}")
        self.name = exchange_id
        self._api: Any = exchange_class(
            {
                "enableRateLimit": throttle,
                "enableLastJsonResponse": True,  # for _salvage_tickers
                "timeout": int(timeout * 1000),
            }
        )
        if throttle:
            self._api.throttle = RequestSpacing(self._api.rateLimit / 1000)
        exact = dict(self._api.exceptions.get("exact", {}))
        exact.update(dict.fromkeys(UNKNOWN_SYMBOL_CODES.get(exchange_id, ()), ccxt.BadSymbol))
        self._api.exceptions = {**self._api.exceptions, "exact": exact}
        if base_url:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"exchange base URL must be http(s)://host[:port], got {base_url!r}"
                )
            public = self._api.urls["api"]
            primary = public.get("public") if isinstance(public, dict) else public
            self._api.urls["api"] = _rebase(public, urlsplit(str(primary)).netloc, base_url)

    @property
    def url(self) -> str:
        """The public REST API's base URL, as overridden."""
        public = self._api.urls["api"]
        return str(public.get("public") if isinstance(public, dict) else public)

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._api.close()

    async def symbols(self, *, reload: bool = False) -> frozenset[str]:
        """The unified symbols the exchange lists."""
        with _translated_errors(self.name):
            markets = await self._api.load_markets(reload)
        return frozenset(markets)

    async def check_symbols(self, symbols: Sequence[str]) -> None:
        """Raise UnknownSymbol naming every symbol the exchange does not list."""
        listed = await self.symbols()
        unknown = [symbol for symbol in symbols if symbol not in listed]
        if unknown:
            raise UnknownSymbol(self.name, unknown)

    async def fetch_tickers(self, symbols: Sequence[str], *, now: datetime) -> TickerBatch:
        """All `symbols` in one batched call, stamped with the poll time `now`.

        A symbol whose numbers are unusable is dropped with its reason; the call as a whole
        fails only when the exchange fails, or with UnknownSymbol when it refuses a symbol
        (Kraken fails the whole batch then, without saying which one).
        """
        if not symbols:
            return TickerBatch(tickers=())
        rejected: list[tuple[str, str]] = []
        with _translated_errors(self.name, symbols):
            await self._api.load_markets()
            try:
                raw = await self._api.fetch_tickers(list(symbols))
            except PARSE_ERRORS:
                # One unparseable number fails ccxt's whole batch; keep the pairs that parse.
                raw, rejected = self._salvage_tickers(symbols)
        if not isinstance(raw, dict) or not any(symbol in raw for symbol in symbols):
            # ccxt returns what it could parse; a body it could not read comes back empty.
            raise BadResponse(f"{self.name} sent no usable tickers")
        tickers: list[Ticker] = []
        salvaged = {symbol for symbol, _ in rejected}
        for symbol in symbols:
            entry = raw.get(symbol)
            if symbol in salvaged:
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
                    )
                )
            except BadResponse as exc:
                rejected.append((symbol, str(exc)))
        return TickerBatch(tickers=tuple(tickers), rejected=tuple(rejected))

    def _salvage_tickers(
        self, symbols: Sequence[str]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Parse the last ticker answer entry by entry: (parsed tickers, rejected symbols)."""
        split = TICKER_ENTRIES.get(self.name)
        if split is None:
            raise BadResponse(f"{self.name} sent a ticker ccxt could not parse")
        wanted = set(symbols)
        parsed: dict[str, Any] = {}
        rejected: list[tuple[str, str]] = []
        for market_id, entry in split(self._api.last_json_response).items():
            market = self._api.safe_market(market_id)
            symbol = market.get("symbol")
            if symbol not in wanted:
                continue
            try:
                parsed[symbol] = self._api.parse_ticker(entry, market)
            except PARSE_ERRORS as exc:
                rejected.append((symbol, f"{symbol}: unparseable ticker ({_short(exc)})"))
        return parsed, rejected
