"""A stand-in for Kraken's public REST API on 127.0.0.1, for tests and the offline demo.

It speaks the wire format of `/0/public/{Time,SystemStatus,Assets,AssetPairs,Ticker,OHLC}` well
enough for the real ccxt client, takes its prices from a `PriceSource`, records every request,
and can be told to misbehave the way the real exchange does: 5xx, HTML maintenance pages,
garbage, truncated JSON, `{"error": [...]}` bodies, rate limits, slowness and bad numbers. It can
also stop listing a pair (`delist`), as Kraken does when a market closes.

    python -m tests.fakes.kraken --port 8765 --replay data/btc-usd-1h.csv --speed 3600
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from .replay import ReplayPrices


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

PLAUSIBLE = {
    "BTC/USD": (27712.1, 1414.5), "ETH/USD": (1850.2, 9000.0), "LTC/USD": (72.5, 25000.0),
    "XRP/USD": (0.51, 9.0e6), "SOL/USD": (98.4, 150000.0), "ADA/USD": (0.39, 1.2e7),
    "DOT/USD": (5.9, 4.0e5), "DOGE/USD": (0.081, 8.0e7),
}  # fmt: skip


class PriceSource(Protocol):
    def quote(self, symbol: str) -> tuple[float, float]:
        """(last price, 24-hour base volume) right now."""
        ...


class StaticPrices:
    """Prices that change only when a test says so."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quotes = dict(PLAUSIBLE)

    def set(self, symbol: str, last: float, volume: float = 1000.0) -> None:
        with self._lock:
            self._quotes[symbol] = (last, volume)

    def quote(self, symbol: str) -> tuple[float, float]:
        with self._lock:
            return self._quotes.get(symbol, (1.0, 1.0))


@dataclass
class _Misbehaviour:
    mode: str
    method: str | None
    remaining: int | None
    status: int
    delay: float
    message: str


MODES = {
    "http_error",
    "html",
    "garbage",
    "error_body",
    "rate_limit",
    "bad_numbers",
    "delay",
    "truncated",
}
HTML_PAGE = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>Kraken is down for maintenance</h1></body></html>"  # noqa: E501
BAD_NUMBERS = ("NaN", "abc", "0", "-5")


class FakeKraken:
    """The stand-in server. Use as a context manager, or `start()` and `stop()`."""

    def __init__(
        self,
        *,
        pairs: Sequence[FakePair] = DEFAULT_PAIRS,
        prices: PriceSource | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.pairs = tuple(pairs)
        self.prices: Any = prices if prices is not None else StaticPrices()
        self.requests: list[tuple[str, dict[str, str], float]] = []
        self._names = {
            name: pair
            for pair in self.pairs
            for name in (pair.pair_id, pair.altname, pair.wsname, pair.symbol)
        }
        self._misbehaviour: list[_Misbehaviour] = []
        self._delisted: dict[str, bool] = {}  # symbol -> still in AssetPairs
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeKraken:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeKraken:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- misbehaviour -----------------------------------------------------------------------

    def misbehave(
        self,
        mode: str,
        *,
        method: str | None = None,
        times: int | None = None,
        status: int = 503,
        delay: float = 0.0,
        message: str = "EService:Unavailable",
    ) -> None:
        """Answer the next `times` requests of `method` (all methods if None) badly."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {sorted(MODES)}")
        with self._lock:
            self._misbehaviour.append(_Misbehaviour(mode, method, times, status, delay, message))

    def behave(self) -> None:
        with self._lock:
            self._misbehaviour.clear()

    def _take_misbehaviour(self, method: str) -> _Misbehaviour | None:
        with self._lock:
            for rule in self._misbehaviour:
                if rule.method in (None, method):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._misbehaviour.remove(rule)
                    return rule
        return None

    # --- delisting ----------------------------------------------------------------------------

    def delist(self, symbol: str, *, still_in_markets: bool = False) -> None:
        """Stop listing `symbol`: any Ticker call naming it fails as a whole with Kraken's
        `EQuery:Unknown asset pair`. AssetPairs drops it too, unless `still_in_markets` (Kraken's
        markets list and its ticker do not always agree)."""
        with self._lock:
            self._delisted[symbol] = still_in_markets

    def relist(self, symbol: str) -> None:
        with self._lock:
            self._delisted.pop(symbol, None)

    def _listed(self, method: str) -> list[FakePair]:
        with self._lock:
            gone = {s for s, in_markets in self._delisted.items() if not in_markets}
            if method == "Ticker":
                gone = set(self._delisted)
        return [p for p in self.pairs if p.symbol not in gone]

    # --- observation ------------------------------------------------------------------------

    def _record(self, method: str, query: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((method, query, time.time()))
            self._lock.notify_all()

    def request_count(self, method: str) -> int:
        with self._lock:
            return sum(1 for name, _, _ in self.requests if name == method)

    def wait_for_requests(self, method: str, count: int, timeout: float = 10.0) -> None:
        """Block until `count` requests of `method` have arrived (counted on arrival)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while sum(1 for name, _, _ in self.requests if name == method) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} {method} requests did not arrive in {timeout}s")
                self._lock.wait(left)

    # --- the API ----------------------------------------------------------------------------

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
            pairs = self._select(query.get("pair"), self._listed(method))
            if pairs is None:
                return 200, {"error": ["EQuery:Unknown asset pair"]}
            return 200, _ok({p.pair_id: _asset_pair(p) for p in pairs})
        if method == "Ticker":
            pairs = self._select(query.get("pair"), self._listed(method))
            if pairs is None:
                return 200, {"error": ["EQuery:Unknown asset pair"]}
            return 200, _ok({p.pair_id: self._ticker(p) for p in pairs})
        if method == "OHLC":
            pairs = self._select(query.get("pair"))
            if not pairs or len(pairs) != 1:
                return 200, {"error": ["EQuery:Unknown asset pair"]}
            return 200, _ok(self._ohlc(pairs[0], query, now))
        return 404, {"error": ["EGeneral:Unknown method"]}

    def _assets(self) -> list[str]:
        return sorted({asset for p in self.pairs for asset in (p.base, p.quote)})

    def _select(
        self, names: str | None, listed: Sequence[FakePair] | None = None
    ) -> list[FakePair] | None:
        """The pairs named (all listed ones if none); None when any name is not listed."""
        listed = self.pairs if listed is None else listed
        if not names:
            return list(listed)
        chosen = [self._names.get(name.strip()) for name in names.split(",")]
        if any(p is None or p not in listed for p in chosen):
            return None
        return [p for p in chosen if p is not None]

    def _ticker(self, pair: FakePair) -> dict[str, Any]:
        last, volume = self.prices.quote(pair.symbol)
        return {
            "a": [_num(last * 1.0002), "1", "1.000"],
            "b": [_num(last * 0.9998), "2", "2.000"],
            "c": [_num(last), "0.01686188"],
            "v": [_num(volume / 2), _num(volume)],
            "p": [_num(last), _num(last)],
            "t": [1000, 2000],
            "l": [_num(last * 0.98), _num(last * 0.97)],
            "h": [_num(last * 1.02), _num(last * 1.03)],
            "o": _num(last * 0.99),
        }

    def _ohlc(self, pair: FakePair, query: dict[str, str], now: float) -> dict[str, Any]:
        minutes = int(query.get("interval", "1"))
        step = minutes * 60
        newest = int(now // step) * step
        oldest = max(newest - 719 * step, int(query.get("since", "0")) // step * step)
        last, volume = self.prices.quote(pair.symbol)
        price = _num(last)
        candles = [
            [t, price, price, price, price, price, _num(volume / 1440 * minutes), 10]
            for t in range(oldest, newest + 1, step)
        ]
        return {pair.pair_id: candles, "last": newest}

    def _spoil_numbers(self, body: Any) -> Any:
        """Put one kind of unusable number in each of the first tickers of a Ticker answer."""
        result = body.get("result", {})
        for pair_id, bad in zip(sorted(result), BAD_NUMBERS, strict=False):
            result[pair_id]["c"][0] = bad
        return body


def _ok(result: Any) -> dict[str, Any]:
    return {"error": [], "result": result}


def _num(value: float) -> str:
    # Kraken sends plain decimal strings, never exponents; 8 significant digits suffice.
    return format(Decimal(f"{value:.8g}"), "f")


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


def _handler_for(fake: FakeKraken) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            method = url.path.removeprefix("/0/public/").strip("/")
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            fake._record(method, query)
            rule = fake._take_misbehaviour(method)
            if rule is not None and rule.mode == "delay":
                time.sleep(rule.delay)
                rule = None
            status, body = fake.answer(method, query)
            if rule is None:
                self._send(status, json.dumps(body).encode(), "application/json")
            elif rule.mode == "bad_numbers" and method == "Ticker" and status == 200:
                self._send(200, json.dumps(fake._spoil_numbers(body)).encode(), "application/json")
            else:
                self._misbehave(rule, body)

        def _misbehave(self, rule: _Misbehaviour, body: Any) -> None:
            if rule.mode == "http_error":
                self._send(rule.status, f"{rule.status} error".encode(), "text/plain")
            elif rule.mode == "html":
                self._send(rule.status, HTML_PAGE, "text/html")
            elif rule.mode == "garbage":
                self._send(200, b"\x00\xffnot json at all{", "application/json")
            elif rule.mode == "truncated":
                text = json.dumps(body).encode()
                self._send(200, text[: len(text) // 2], "application/json")
            elif rule.mode == "error_body":
                self._send(200, json.dumps({"error": [rule.message]}).encode(), "application/json")
            elif rule.mode == "rate_limit":
                limited = json.dumps({"error": ["EAPI:Rate limit exceeded"]}).encode()
                self._send(429, limited, "application/json")
            else:  # bad_numbers for a method that has no numbers to spoil
                self._send(200, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test); nothing to tell it

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; requests are recorded on the fake instead

    return Handler


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
