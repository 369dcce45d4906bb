"""A stand-in for Kraken's public REST API on 127.0.0.1, for tests and the offline demo.

It speaks the wire format of `/0/public/{Time,SystemStatus,Assets,AssetPairs,Ticker,OHLC}` well
enough for the real ccxt client, takes its prices from a `PriceSource`, records every request,
and can be told to misbehave the way the real exchange does: 5xx, HTML maintenance pages,
garbage, truncated JSON, `{"error": [...]}` bodies, rate limits, slowness and bad numbers. It can
also stop listing a pair (`delist`), as Kraken does when a market closes. The machinery it
shares with the other stand-ins is in `base.py`.

    python -m tests.fakes.kraken --port 8765 --replay data/btc-usd-1h.csv --speed 3600
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .base import BAD_NUMBERS, FakeExchange, PriceSource, StaticPrices, num
from .replay import ReplayPrices

__all__ = ["DEFAULT_PAIRS", "FakeKraken", "FakePair", "PriceSource", "StaticPrices"]


@dataclass(frozen=True)
class FakePair:
    """One listed market, under every name Kraken gives it."""

    symbol: str  # unified, "BTC/USD"
    pair_id: str  # canonical, "XXBTZUSD"
    altname: str  # "XBTUSD"
    wsname: str  # "XBT/USD"
    base: str  # asset id, "XXBT"
    quote: str  # asset id, "ZUSD"


def _pair(symbol: str, pair_id: str, altname: str, wsname: str, base: str) -> FakePair:
    return FakePair(symbol, pair_id, altname, wsname, base, "ZUSD")


DEFAULT_PAIRS: tuple[FakePair, ...] = (
    _pair("BTC/USD", "XXBTZUSD", "XBTUSD", "XBT/USD", "XXBT"),
    _pair("ETH/USD", "XETHZUSD", "ETHUSD", "ETH/USD", "XETH"),
    _pair("LTC/USD", "XLTCZUSD", "LTCUSD", "LTC/USD", "XLTC"),
    _pair("XRP/USD", "XXRPZUSD", "XRPUSD", "XRP/USD", "XXRP"),
    _pair("SOL/USD", "SOLUSD", "SOLUSD", "SOL/USD", "SOL"),
    _pair("ADA/USD", "ADAUSD", "ADAUSD", "ADA/USD", "ADA"),
    _pair("DOT/USD", "DOTUSD", "DOTUSD", "DOT/USD", "DOT"),
    _pair("DOGE/USD", "XDGUSD", "XDGUSD", "XDG/USD", "XXDG"),
)

# Kraken's asset ids and the names it shows for them; ccxt maps XBT->BTC and XDG->DOGE.
ASSET_ALTNAMES = {
    "XXBT": "XBT", "XETH": "ETH", "XLTC": "LTC", "XXRP": "XRP", "SOL": "SOL",
    "ADA": "ADA", "DOT": "DOT", "XXDG": "XDG", "ZUSD": "USD",
}  # fmt: skip

OHLC_KEPT = 720  # Kraken serves the 720 most recent candles of an interval
UNKNOWN_PAIR = {"error": ["EQuery:Unknown asset pair"]}


class FakeKraken(FakeExchange):
    """The stand-in Kraken. Use as a context manager, or `start()` and `stop()`."""

    html_page = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>Kraken is down for maintenance</h1></body></html>"  # noqa: E501
    default_error = "EService:Unavailable"

    def __init__(
        self,
        *,
        pairs: Sequence[FakePair] = DEFAULT_PAIRS,
        prices: PriceSource | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(pairs=pairs, prices=prices, host=host, port=port)
        self._names = {
            name: pair
            for pair in self.pairs
            for name in (pair.pair_id, pair.altname, pair.wsname, pair.symbol)
        }

    def delist(self, symbol: str, *, still_in_markets: bool = False) -> None:
        """Stop listing `symbol`: any Ticker call naming it fails as a whole with Kraken's
        `EQuery:Unknown asset pair`. AssetPairs drops it too, unless `still_in_markets` (Kraken's
        markets list and its ticker do not always agree)."""
        super().delist(symbol, still_in_markets=still_in_markets)

    # --- the wire format --------------------------------------------------------------------

    def route(self, path: str, query: dict[str, str]) -> tuple[str, dict[str, str]]:
        return path.removeprefix("/0/public/").strip("/"), query

    def answer(self, method: str, query: dict[str, str]) -> tuple[int, Any]:
        """(HTTP status, JSON body) of a well-behaved Kraken."""
        now = time.time()
        if method == "Time":
            stamp = datetime.fromtimestamp(now, UTC).strftime("%a, %d %b %y %H:%M:%S +0000")
            return 200, _ok({"unixtime": int(now), "rfc1123": stamp})
        if method == "SystemStatus":
            iso = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 200, _ok({"status": "online", "timestamp": iso})
        if method == "Assets":
            return 200, _ok({asset: _asset(asset) for asset in self._assets()})
        if method == "AssetPairs":
            pairs = self._select(query.get("pair"), self.listed(in_markets=True))
            if pairs is None:
                return 200, UNKNOWN_PAIR
            return 200, _ok({p.pair_id: _asset_pair(p) for p in pairs})
        if method == "Ticker":
            pairs = self._select(query.get("pair"), self.listed())
            if pairs is None:
                return 200, UNKNOWN_PAIR
            return 200, _ok({p.pair_id: self._ticker(p) for p in pairs})
        if method == "OHLC":
            pairs = self._select(query.get("pair"), self.listed())
            if not pairs or len(pairs) != 1:
                return 200, UNKNOWN_PAIR
            return 200, _ok(self._ohlc(pairs[0], query, now))
        return 404, {"error": ["EGeneral:Unknown method"]}

    def spoil(self, method: str, body: Any) -> Any:
        """One kind of unusable number in each of the first tickers (last price), or the
        newest candles (close), of the answer."""
        result = body.get("result", {}) if isinstance(body, dict) else {}
        if method == "Ticker":
            for pair_id, bad in zip(sorted(result), BAD_NUMBERS, strict=False):
                result[pair_id]["c"][0] = bad
        elif method == "OHLC":
            for candles in (v for k, v in result.items() if k != "last"):
                for candle, bad in zip(reversed(candles), BAD_NUMBERS, strict=False):
                    candle[4] = bad
        return body

    def error_answer(self, message: str, status: int) -> tuple[int, Any]:
        return 200, {"error": [message]}  # Kraken's errors come with HTTP 200

    def rate_limit_answer(self) -> tuple[int, Any]:
        return 429, {"error": ["EAPI:Rate limit exceeded"]}

    def _assets(self) -> list[str]:
        return sorted({asset for p in self.pairs for asset in (p.base, p.quote)})

    def _select(self, names: str | None, listed: Sequence[FakePair]) -> list[FakePair] | None:
        """The pairs named (all listed ones if none); None when any name is not listed."""
        if not names:
            return list(listed)
        chosen = [self._names.get(name.strip()) for name in names.split(",")]
        if any(p is None or p not in listed for p in chosen):
            return None
        return [p for p in chosen if p is not None]

    def _ticker(self, pair: FakePair) -> dict[str, Any]:
        last, volume = self.prices.quote(pair.symbol)
        return {
            "a": [num(last * 1.0002), "1", "1.000"],
            "b": [num(last * 0.9998), "2", "2.000"],
            "c": [num(last), "0.01686188"],
            "v": [num(volume / 2), num(volume)],
            "p": [num(last), num(last)],
            "t": [1000, 2000],
            "l": [num(last * 0.98), num(last * 0.97)],
            "h": [num(last * 1.02), num(last * 1.03)],
            "o": num(last * 0.99),
        }

    def _ohlc(self, pair: FakePair, query: dict[str, str], now: float) -> dict[str, Any]:
        """The candles from `since` on, at most the 720 most recent; the last one is forming."""
        minutes = int(query.get("interval", "1"))
        step = minutes * 60
        newest = int(now // step) * step
        oldest = max(newest - (OHLC_KEPT - 1) * step, int(query.get("since", "0")) // step * step)
        candles = []
        for opened in range(oldest, newest + 1, step):
            open_, high, low, close, volume = self.candle(pair.symbol, opened, step)
            candles.append(
                [opened, num(open_), num(high), num(low), num(close), num(close), num(volume), 10]
            )
        return {pair.pair_id: candles, "last": newest}


def _ok(result: Any) -> dict[str, Any]:
    return {"error": [], "result": result}


def _asset(asset: str) -> dict[str, Any]:
    return {
        "aclass": "currency",
        "altname": ASSET_ALTNAMES.get(asset, asset),
        "decimals": 10,
        "display_decimals": 5,
        "status": "enabled",
    }


def _asset_pair(pair: FakePair) -> dict[str, Any]:
    return {
        "altname": pair.altname, "wsname": pair.wsname, "aclass_base": "currency",
        "base": pair.base, "aclass_quote": "currency", "quote": pair.quote, "lot": "unit",
        "cost_decimals": 5, "pair_decimals": 5, "lot_decimals": 8, "lot_multiplier": 1,
        "leverage_buy": [], "leverage_sell": [], "fees": [[0, 0.26], [50000, 0.24]],
        "fees_maker": [[0, 0.16], [50000, 0.14]], "fee_volume_currency": "ZUSD",
        "margin_call": 80, "margin_stop": 40, "ordermin": "0.0001", "costmin": "0.5",
        "tick_size": "0.00001", "status": "online",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Kraken's public REST API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--replay", help="hourly OHLC CSV to replay (e.g. data/btc-usd-1h.csv)")
    parser.add_argument("--speed", type=float, default=3600.0, help="replayed seconds per second")
    args = parser.parse_args()

    prices = ReplayPrices(args.replay, speed=args.speed) if args.replay else None
    fake = FakeKraken(prices=prices, host=args.host, port=args.port)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with fake:
        source = f"replaying {args.replay} at {args.speed:g}x" if args.replay else "static prices"
        print(f"stand-in Kraken at {fake.url} ({source})", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
