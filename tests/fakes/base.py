"""What the stand-in exchanges share: a threaded HTTP server on 127.0.0.1, request recording,
misbehaviour switches, delisting, prices and candles.

A stand-in subclasses `FakeExchange` with its wire format: `route` names the request,
`answer` gives a well-behaved exchange's (status, JSON body), and three small hooks say how
this exchange spoils numbers, refuses with an error body and rate-limits.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

PLAUSIBLE = {
    "BTC/USD": (27712.1, 1414.5), "ETH/USD": (1850.2, 9000.0), "LTC/USD": (72.5, 25000.0),
    "XRP/USD": (0.51, 9.0e6), "SOL/USD": (98.4, 150000.0), "ADA/USD": (0.39, 1.2e7),
    "DOT/USD": (5.9, 4.0e5), "DOGE/USD": (0.081, 8.0e7),
}  # fmt: skip

MODES = frozenset(
    {
        "http_error",  # a bare HTTP error status
        "html",  # an HTML maintenance page
        "garbage",  # bytes that are not JSON
        "truncated",  # half of the right JSON
        "error_body",  # the exchange's own error body
        "rate_limit",  # the exchange's "slow down"
        "bad_numbers",  # NaN, letters, zero and negative prices in a few entries
        "delay",  # the right answer, late
    }
)
BAD_NUMBERS = ("NaN", "abc", "0", "-5")


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


class Listed(Protocol):
    @property
    def symbol(self) -> str: ...


def num(value: float) -> str:
    """A plain decimal string, never an exponent, as exchanges send; 8 significant digits."""
    return format(Decimal(f"{value:.8g}"), "f")


@dataclass
class Misbehaviour:
    mode: str
    method: str | None
    remaining: int | None
    status: int
    delay: float
    message: str


class FakeExchange:
    """A stand-in exchange server. Use as a context manager, or `start()` and `stop()`."""

    html_page: ClassVar[bytes] = b"<html><body><h1>Down for maintenance</h1></body></html>"
    default_error: ClassVar[str] = "unavailable"

    def __init__(
        self,
        *,
        pairs: Sequence[Listed],
        prices: PriceSource | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.pairs: tuple[Any, ...] = tuple(pairs)
        self.prices: Any = prices if prices is not None else StaticPrices()
        self.requests: list[tuple[str, dict[str, str], float]] = []
        self._misbehaviour: list[Misbehaviour] = []
        self._delisted: dict[str, bool] = {}  # symbol -> still in the markets list
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the wire format: a stand-in's own --------------------------------------------------

    def route(self, path: str, query: dict[str, str]) -> tuple[str, dict[str, str]]:
        """The request's method name, and its query with any parameters taken from the path."""
        raise NotImplementedError

    def answer(self, method: str, query: dict[str, str]) -> tuple[int, Any]:
        """(HTTP status, JSON body) of the well-behaved exchange."""
        raise NotImplementedError

    def spoil(self, method: str, body: Any) -> Any:
        """The body with unusable numbers in its first entries; as it is if it has none."""
        return body

    def error_answer(self, message: str, status: int) -> tuple[int, Any]:
        """The exchange's own error body carrying `message`."""
        raise NotImplementedError

    def rate_limit_answer(self) -> tuple[int, Any]:
        raise NotImplementedError

    # --- misbehaviour -----------------------------------------------------------------------

    def misbehave(
        self,
        mode: str,
        *,
        method: str | None = None,
        times: int | None = None,
        status: int = 503,
        delay: float = 0.0,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` requests of `method` (all methods if None) badly."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {sorted(MODES)}")
        text = self.default_error if message is None else message
        with self._lock:
            self._misbehaviour.append(Misbehaviour(mode, method, times, status, delay, text))

    def behave(self) -> None:
        with self._lock:
            self._misbehaviour.clear()

    def _take_misbehaviour(self, method: str) -> Misbehaviour | None:
        with self._lock:
            for rule in self._misbehaviour:
                if rule.method in (None, method):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._misbehaviour.remove(rule)
                    return rule
        return None

    def misbehaved(self, rule: Misbehaviour, method: str, body: Any) -> tuple[int, bytes, str]:
        """(status, payload, content type) of a misbehaving answer whose right body is `body`."""
        if rule.mode == "http_error":
            return rule.status, f"{rule.status} error".encode(), "text/plain"
        if rule.mode == "html":
            return rule.status, self.html_page, "text/html"
        if rule.mode == "garbage":
            return 200, b"\x00\xffnot json at all{", "application/json"
        if rule.mode == "truncated":
            text = json.dumps(body).encode()
            return 200, text[: len(text) // 2], "application/json"
        if rule.mode == "error_body":
            status, error = self.error_answer(rule.message, rule.status)
            return status, json.dumps(error).encode(), "application/json"
        if rule.mode == "rate_limit":
            status, error = self.rate_limit_answer()
            return status, json.dumps(error).encode(), "application/json"
        # bad_numbers
        return 200, json.dumps(self.spoil(method, body)).encode(), "application/json"

    # --- delisting ----------------------------------------------------------------------------

    def delist(self, symbol: str, *, still_in_markets: bool = False) -> None:
        """Stop serving `symbol`. Its markets list drops it too, unless `still_in_markets`
        (an exchange's markets list and its other answers do not always agree)."""
        with self._lock:
            self._delisted[symbol] = still_in_markets

    def relist(self, symbol: str) -> None:
        with self._lock:
            self._delisted.pop(symbol, None)

    def listed(self, *, in_markets: bool = False) -> list[Any]:
        """The pairs served (`in_markets`: the pairs the markets list shows)."""
        with self._lock:
            gone = {s for s, kept in self._delisted.items() if not (in_markets and kept)}
        return [p for p in self.pairs if p.symbol not in gone]

    # --- prices and candles -----------------------------------------------------------------

    def candle(self, symbol: str, opened: int, step: int) -> tuple[float, ...]:
        """(open, high, low, close, volume) of the candle opened at unix second `opened`:
        around the current price, moving from one candle to the next so tests can tell
        them apart, with the day's volume spread evenly."""
        last, volume = self.prices.quote(symbol)
        move = ((opened // step) % 5 - 2) / 1000
        open_, close = last * (1 - move), last * (1 + move)
        values = (
            open_,
            max(open_, close) * 1.001,
            min(open_, close) * 0.999,
            close,
            volume * step / 86400,
        )
        return tuple(float(num(value)) for value in values)

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


def _handler_for(fake: FakeExchange) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            method, query = fake.route(url.path, query)
            fake._record(method, query)
            rule = fake._take_misbehaviour(method)
            if rule is not None and rule.mode == "delay":
                time.sleep(rule.delay)
                rule = None
            status, body = fake.answer(method, query)
            if rule is None:
                self._send(status, json.dumps(body).encode(), "application/json")
            else:
                self._send(*fake.misbehaved(rule, method, body))

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


def fake_get(fake: FakeExchange, path: str) -> tuple[int, Any]:
    """GET `path` on a stand-in: (status, decoded JSON body), error statuses included."""
    try:
        with urlopen(fake.url + path, timeout=5) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def ccxt_run(client: Any, call: str, *args: Any) -> Any:
    """Load `client`'s markets, then `await client.<call>(*args)`; the client is closed after."""

    async def main() -> Any:
        try:
            await client.load_markets()
            return await getattr(client, call)(*args)
        finally:
            await client.close()

    return asyncio.run(main())
