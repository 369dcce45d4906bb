"""Bitstamp: what differs from the generic ccxt adapter.

- One call, `GET /api/v2/ticker/`, answers every market at once, each entry naming its pair
  ("BTC/USD") and market type; a pair left out is one Bitstamp no longer serves
  (UnknownSymbol, as Kraken's refusal). ccxt's `fetch_tickers` would then filter that list by the
  wanted symbols in quadratic time; here the answer is split and parsed entry by entry against
  the markets list, in linear time, and one unparseable entry costs only its own pair.
- Errors come as `{"status": "error", "reason": ..., "code": ...}` bodies, which ccxt reads
  before the HTTP status: a 429 or 5xx with such a body would become a plain ExchangeError.
  Here the status decides first (429: rate limited; 5xx: unavailable), and a 404 with an
  error body (an unknown pair on a per-pair path) means UnknownSymbol.
- ccxt parses the currencies and the markets from one answer of `/api/v2/markets/`, which it
  keeps for a second: a long markets list then took two calls. Here the answer is kept until
  a reload, which asks again, so a pair that left the list is gone at once.
- OHLC serves up to 1,000 candles per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

from .errors import BadResponse, UnknownSymbol
from .generic import GenericAdapter, RawTickers


class _BitstampClient(ccxt_async.bitstamp):
    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        if code == 429:
            raise ccxt.RateLimitExceeded(f"{self.id} {code} {reason}")
        if code >= 500:
            raise ccxt.ExchangeNotAvailable(f"{self.id} {code} {reason}")
        if code == 404 and isinstance(response, dict) and response.get("status") == "error":
            raise ccxt.BadSymbol(f"{self.id} {body}")
        return super().handle_errors(
            code, reason, url, method, headers, body, response, request_headers, request_body
        )


# Longer than any load of the markets list takes; a reload asks again whatever is left of it.
MARKETS_KEPT_MS = 24 * 3600 * 1000


def _market_key(name: object, market_type: object) -> tuple[object, object]:
    return name, market_type or "SPOT"


class BitstampAdapter(GenericAdapter):
    candle_limit = 1000

    def __init__(
        self,
        exchange_id: str = "bitstamp",
        *,
        base_url: str = "",
        timeout: float = 10.0,
        throttle: bool = True,
    ) -> None:
        super().__init__(exchange_id, base_url=base_url, timeout=timeout, throttle=throttle)
        self._api.options["fetchMarkets"] = {"expires": MARKETS_KEPT_MS}

    def ccxt_class(self) -> type[Any]:
        return _BitstampClient

    async def markets(self, *, reload: bool = False) -> frozenset[str]:
        if reload:
            self._api.options["fetchMarkets"] = {"expires": MARKETS_KEPT_MS}
        return await super().markets(reload=reload)

    async def raw_tickers(self, symbols: Sequence[str]) -> tuple[RawTickers, list[tuple[str, str]]]:
        body = await self._api.publicGetTicker()
        if not isinstance(body, list):
            raise BadResponse(f"{self.name} sent no usable tickers")
        markets = {
            _market_key(market["info"].get("name"), market["info"].get("market_type")): market
            for market in self._api.markets.values()
            if isinstance(market.get("info"), dict)
        }
        entries: list[tuple[dict[str, Any] | None, Any]] = [
            (
                markets.get(_market_key(entry.get("pair"), entry.get("market_type")))
                if isinstance(entry, dict)
                else None,
                entry,
            )
            for entry in body
        ]
        parsed, rejected = self.parse_entries(entries, symbols)
        refused = {symbol for symbol, _ in rejected}
        missing = [s for s in symbols if s not in parsed and s not in refused]
        if missing:
            # The answer covers every market Bitstamp serves: a pair left out is not served.
            raise UnknownSymbol(self.name, missing, detail="its ticker list without the pair")
        return parsed, rejected
