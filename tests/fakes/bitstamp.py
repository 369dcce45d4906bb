"""A stand-in for Bitstamp's public REST API v2 on 127.0.0.1, for tests.

It speaks the wire format of `/api/v2/{markets,trading-pairs-info,ticker,ohlc}/` well enough for
the real ccxt client, as Bitstamp documents its v2 API: numbers and times as
strings, every market's ticker in one list, candles oldest first, errors as
`{"status": "error", "reason": ..., "code": ...}` with an unknown pair answered 404. The
misbehaviour switches, request recording and delisting are the ones all stand-ins share
(`base.py`).

    python -m tests.fakes.bitstamp --port 8766
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .base import BAD_NUMBERS, FakeExchange, PriceSource, num


@dataclass(frozen=True)
class BitstampPair:
    """One listed market: "BTC/USD" is `btcusd` on the wire."""

    symbol: str

    @property
    def market_symbol(self) -> str:
        return self.symbol.replace("/", "").lower()

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def counter(self) -> str:
        return self.symbol.split("/")[1]


DEFAULT_PAIRS: tuple[BitstampPair, ...] = tuple(
    BitstampPair(symbol) for symbol in ("BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "SOL/USD")
)
STEPS = (60, 180, 300, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 259200)
OHLC_LIMIT = 1000
PER_PAIR = {"ticker", "ohlc"}  # paths ending in /{market_symbol}/; recorded with a "pair"


class FakeBitstamp(FakeExchange):
    """The stand-in Bitstamp. Use as a context manager, or `start()` and `stop()`."""

    html_page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bitstamp is temporarily unavailable</h1></body></html>"  # noqa: E501
    default_error = "Bitstamp.net is under scheduled maintenance. We'll be back soon."

    def __init__(
        self,
        *,
        pairs: Sequence[BitstampPair] = DEFAULT_PAIRS,
        prices: PriceSource | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(pairs=pairs, prices=prices, host=host, port=port)

    # --- the wire format --------------------------------------------------------------------

    def route(self, path: str, query: dict[str, str]) -> tuple[str, dict[str, str]]:
        """`/api/v2/ticker/` is "ticker"; `/api/v2/ohlc/btcusd/` is "ohlc" with pair=btcusd."""
        parts = path.removeprefix("/api/v2/").strip("/").split("/")
        if len(parts) == 2 and parts[0] in PER_PAIR:
            return parts[0], {**query, "pair": parts[1]}
        return "/".join(parts), query

    def answer(self, method: str, query: dict[str, str]) -> tuple[int, Any]:
        """(HTTP status, JSON body) of a well-behaved Bitstamp."""
        now = int(time.time())
        if method in ("markets", "trading-pairs-info"):
            return 200, [_market(pair) for pair in self.listed(in_markets=True)]
        if method == "ticker" and "pair" not in query:
            return 200, [self._ticker(pair, now) for pair in self.listed()]
        if method in PER_PAIR:
            pair = self._find(query["pair"])
            if pair is None:
                return 404, _error("Pair not found.", "404.002")
            if method == "ticker":
                return 200, self._ticker(pair, now)
            return self._ohlc(pair, query, now)
        return 404, _error("Not found.", "404.001")

    def spoil(self, method: str, body: Any) -> Any:
        """One kind of unusable number in each of the first tickers (last price), or the
        newest candles (close), of the answer."""
        if method == "ticker" and isinstance(body, list):
            for entry, bad in zip(body, BAD_NUMBERS, strict=False):
                entry["last"] = bad
        elif method == "ohlc" and isinstance(body, dict) and "data" in body:
            for candle, bad in zip(reversed(body["data"]["ohlc"]), BAD_NUMBERS, strict=False):
                candle["close"] = bad
        return body

    def error_answer(self, message: str, status: int) -> tuple[int, Any]:
        return status, _error(message, f"{status}.000")

    def rate_limit_answer(self) -> tuple[int, Any]:
        return 429, _error("Too many requests.", "429.000")

    def _find(self, market_symbol: str) -> BitstampPair | None:
        for pair in self.listed():
            if pair.market_symbol == market_symbol:
                return pair
        return None

    def _ticker(self, pair: BitstampPair, now: int) -> dict[str, Any]:
        last, volume = self.prices.quote(pair.symbol)
        return {
            "timestamp": str(now), "open": num(last * 0.99), "high": num(last * 1.02),
            "low": num(last * 0.98), "last": num(last), "volume": num(volume),
            "vwap": num(last), "bid": num(last * 0.9998), "ask": num(last * 1.0002),
            "side": "0", "open_24": num(last * 0.99), "percent_change_24": "1.01",
            "pair": pair.symbol, "market_type": "SPOT",
        }  # fmt: skip

    def _ohlc(self, pair: BitstampPair, query: dict[str, str], now: int) -> tuple[int, Any]:
        """Candles of `step` seconds within [start, end], oldest first: the first `limit` from
        `start`, or the `limit` most recent up to `end` (default now)."""
        try:
            step, limit = int(query["step"]), int(query.get("limit", OHLC_LIMIT))
            start = int(query["start"]) if "start" in query else None
            end = int(query["end"]) if "end" in query else now
        except (KeyError, ValueError):
            return 400, _error("Invalid step, limit, start or end.", "400.002")
        if step not in STEPS or not 1 <= limit <= OHLC_LIMIT:
            return 400, _error("Invalid step or limit.", "400.002")
        newest = min(end, now) // step * step
        if start is None:
            opened = range(max(0, newest - (limit - 1) * step), newest + 1, step)
        else:
            first = -(-start // step) * step  # the first candle opened at or after start
            opened = range(first, min(newest, first + (limit - 1) * step) + 1, step)
        candles = []
        for at in opened:
            open_, high, low, close, volume = self.candle(pair.symbol, at, step)
            candles.append(
                {
                    "timestamp": str(at),
                    "open": num(open_),
                    "high": num(high),
                    "low": num(low),
                    "close": num(close),
                    "volume": num(volume),
                }
            )
        return 200, {"data": {"pair": pair.symbol, "ohlc": candles}}


def _error(reason: str, code: str) -> dict[str, str]:
    return {"status": "error", "reason": reason, "code": code}


def _market(pair: BitstampPair) -> dict[str, Any]:
    return {
        "name": pair.symbol, "market_symbol": pair.market_symbol,
        "url_symbol": pair.market_symbol, "base_currency": pair.base, "base_decimals": 8,
        "counter_currency": pair.counter, "counter_decimals": 2, "minimum_order_value": "10",
        "trading": "Enabled", "instant_and_market_orders": "Enabled",
        "description": f"{pair.base} / {pair.counter}", "market_type": "SPOT",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Bitstamp's public API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()

    fake = FakeBitstamp(host=args.host, port=args.port)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with fake:
        print(f"stand-in Bitstamp at {fake.url}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
