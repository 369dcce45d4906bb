"""A ticker stream for one exchange over ccxt.pro's WebSocket client. No Django in here.

`TickerStream` yields validated `Ticker` values as the exchange pushes them and keeps itself
alive: a dropped or failed socket is reconnected after a capped, jittered backoff, and a socket
that says nothing at all (no update, no heartbeat, no pong) for `silence` seconds is treated as
dead and replaced. While it is down, `connected` is False and `on_change(False)` has been
called, so the caller can poll over REST meanwhile. A symbol the exchange refuses ends the
stream with `UnknownSymbol`: reconnecting cannot help.

ccxt.pro's kraken speaks WebSocket v2 for tickers (`urls["api"]["ws"]["publicV2"]`,
wss://ws.kraken.com/v2); it loads the markets over REST first, hence `base_url` besides
`ws_url` for local stand-ins.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import ccxt
import ccxt.pro as ccxt_pro

from tracker.common.backoff import Backoff

from .errors import (
    BadResponse,
    ExchangeError,
    ExchangeUnavailable,
    UnknownSymbol,
    UnsupportedExchange,
)
from .urls import rebase_urls
from .values import Ticker

logger = logging.getLogger(__name__)

# Per exchange: the entries of ccxt.pro's `urls["api"]["ws"]` its ticker channel connects to.
WS_TICKER_URL_KEYS: dict[str, tuple[str, ...]] = {"kraken": ("publicV2",)}

# A future on each socket that nothing resolves: ccxt rejects it when the socket fails.
ALIVE = "tracker:stream-alive"

DEFAULT_BACKOFF = Backoff(base=1.0, cap=60.0)


class SilentSocket(ExchangeUnavailable):
    """The socket is open but nothing came through it for longer than the silence window."""


@functools.cache
def stream_supported(exchange_id: str) -> bool:
    """True when ccxt.pro can stream the tickers of many pairs of `exchange_id` at once."""
    exchange_class = getattr(ccxt_pro, exchange_id, None)
    if exchange_id not in ccxt_pro.exchanges or exchange_class is None:
        return False
    return bool(exchange_class().has.get("watchTickers"))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _failure(exchange: str, exc: BaseException, symbols: Sequence[str]) -> ExchangeError:
    """ccxt's (and the transport's) exceptions as this package's tree."""
    if isinstance(exc, ExchangeError):
        return exc
    text = " ".join(str(exc).split())[:240]
    if isinstance(exc, ccxt.BadSymbol):
        named = [symbol for symbol in symbols if symbol in text]
        return UnknownSymbol(exchange, named or list(symbols), detail=text)
    if isinstance(exc, (ccxt.NetworkError, OSError)):
        return ExchangeUnavailable(f"{exchange} stream failed: {text or type(exc).__name__}")
    return ExchangeError(f"{exchange} stream failed: {type(exc).__name__}: {text}")


class TickerStream:
    """Tickers of `symbols` on one exchange, pushed over its WebSocket.

        async with TickerStream("kraken", symbols=["BTC/USD"]) as stream:
            async for ticker in stream:
                ...

    Each ticker is stamped with the exchange's time when the message carries one, else with
    `now()` on arrival (Kraken's v2 ticker carries none). Iterating is what drives the
    socket: reconnects happen while the caller waits for the next ticker. `backoff` spaces
    reconnect attempts (`sleep` waits them out); `silence` is the most seconds without any
    frame before the socket counts as dead; `timeout` bounds each REST call (ccxt loads the
    markets over REST before it subscribes). `on_change(up)` is called on every change of
    `connected`. Tickers not yet read wait in memory, so keep reading (or close).
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        symbols: Sequence[str],
        ws_url: str = "",
        base_url: str = "",
        silence: float = 30.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        timeout: float = 10.0,
        now: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_change: Callable[[bool], object] | None = None,
    ) -> None:
        exchange_class = getattr(ccxt_pro, exchange_id, None)
        if exchange_id not in ccxt_pro.exchanges or exchange_class is None:
            raise UnsupportedExchange(f"no WebSocket client for exchange id {exchange_id!r}")
        if not symbols:
            raise ValueError("a ticker stream needs at least one symbol")
        if silence <= 0:
            raise ValueError("silence must be a positive number of seconds")
        self.name = exchange_id
        self.symbols = tuple(dict.fromkeys(symbols))
        self.silence = silence
        self.backoff = backoff
        self.failures = 0  # consecutive failed connections; 0 while connected
        self.rejected = 0  # messages dropped as unusable, for the operator
        self.delivered = 0  # tickers yielded since the start
        self._now = now
        self._sleep = sleep
        self._on_change = on_change
        self._connected = False
        self._down_since: float | None = time.monotonic()
        self._closed = False
        self._heard = time.monotonic()
        self._waiting: asyncio.Future[Any] | None = None
        self._updates: deque[Any] = deque()  # tickers ccxt parsed, not yet yielded
        self._arrived = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()
        self._api: Any = exchange_class(
            {"enableRateLimit": False, "timeout": int(timeout * 1000), "newUpdates": True}
        )
        if not self._api.has.get("watchTickers"):
            raise UnsupportedExchange(f"{exchange_id} has no ticker stream in ccxt.pro")
        if base_url:
            urls = self._api.urls["api"]
            primary = urls.get("public") or next(v for v in urls.values() if isinstance(v, str))
            self._api.urls["api"] = rebase_urls(urls, urlsplit(str(primary)).netloc, base_url)
        if ws_url:
            self._point_socket_at(ws_url)
        self._guard_clients()

    # --- state the caller reads ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a socket is up and has delivered its first ticker."""
        return self._connected

    @property
    def down_for(self) -> float:
        """Seconds since the stream went down (or was started); 0 while connected."""
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    @property
    def ws_url(self) -> str:
        ws = self._api.urls["api"]["ws"]
        if isinstance(ws, str):
            return ws
        return str(ws[WS_TICKER_URL_KEYS.get(self.name, ("public",))[0]])

    # --- life cycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> TickerStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop: the iteration ends, the socket and the REST session are closed."""
        if self._closed:
            return
        self._closed = True
        if self._waiting is not None:
            self._waiting.cancel()
        self._set_connected(False)
        try:
            await asyncio.wait_for(self._api.close(), 5)
        except (TimeoutError, ccxt.BaseError, OSError) as exc:
            logger.info("%s stream: closing the socket failed: %s", self.name, exc)
        if self._closing:
            await asyncio.wait(self._closing, timeout=5)

    # --- the tickers --------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Ticker]:
        return self._tickers()

    async def _tickers(self) -> AsyncIterator[Ticker]:
        while not self._closed:
            try:
                async for ticker in self._session():
                    yield ticker
            except UnknownSymbol:
                self._set_connected(False)
                raise
            except ExchangeError as exc:
                if self._closed:
                    return
                await self._reconnect_after(exc)

    async def _session(self) -> AsyncIterator[Ticker]:
        """Tickers from one socket, until it fails or falls silent.

        ccxt's `watch_tickers` opens the socket and subscribes; from then on every ticker ccxt
        parses is taken where it hands it to its watchers (see `_guarded`), so a burst of
        updates loses none between two calls, and the socket's own failure is watched through
        one future ccxt rejects when the socket closes or errs.
        """
        self._heard = time.monotonic()
        await self._until(self._api.watch_tickers(list(self.symbols)))
        clients = self._api.clients or {}
        client = clients.get(self.ws_url)
        if client is None and len(clients) == 1:  # an exchange whose URL table we do not know
            (client,) = clients.values()
        if client is None:  # closed or dropped between the answer and now
            raise ExchangeUnavailable(f"{self.name} stream closed right after subscribing")
        alive = client.future(ALIVE)
        try:
            while not self._closed:
                if not self._connected:
                    self._set_connected(True)
                while self._updates:
                    ticker = self._ticker(self._updates.popleft())
                    if ticker is not None:
                        self.delivered += 1
                        yield ticker
                self._arrived.clear()
                arrived = asyncio.ensure_future(self._arrived.wait())
                try:
                    await self._until(alive, also=arrived)
                finally:
                    arrived.cancel()
        finally:
            if not alive.done():
                alive.cancel()

    async def _until(self, awaitable: Any, *, also: asyncio.Future[Any] | None = None) -> Any:
        """The result of `awaitable`, or None once `also` is done first; SilentSocket when no
        frame at all arrives for `silence` seconds; ccxt's failures as ExchangeError."""
        self._waiting = waiting = asyncio.ensure_future(awaitable)
        wanted = {waiting} if also is None else {waiting, also}
        try:
            while True:
                left = self.silence - (time.monotonic() - self._heard)
                if left <= 0:
                    raise SilentSocket(f"{self.name} stream silent for over {self.silence:g}s")
                done, _ = await asyncio.wait(
                    wanted, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                if waiting in done:
                    break
                if done:
                    return None
            if waiting.cancelled():
                if self._closed:
                    return None
                raise ExchangeUnavailable(f"{self.name} stream: the socket was closed")
            try:
                return waiting.result()
            except Exception as exc:  # sorted into our tree right here
                raise _failure(self.name, exc, self.symbols) from exc
        finally:
            self._waiting = None
            if also is None and not waiting.done():  # a watch call of our own: stop it
                waiting.cancel()
                await asyncio.wait({waiting})
            if waiting.done() and not waiting.cancelled():
                waiting.exception()  # retrieved: a failure is handled above

    def _ticker(self, entry: Any) -> Ticker | None:
        symbol = entry.get("symbol") if isinstance(entry, dict) else None
        if symbol not in self.symbols:
            return None
        stamp = entry.get("timestamp")
        if isinstance(stamp, (int, float)) and math.isfinite(stamp) and stamp > 0:
            timestamp = datetime.fromtimestamp(stamp / 1000, UTC)
        else:
            timestamp = self._now()
        try:
            return Ticker.build(
                symbol=symbol,
                timestamp=timestamp,
                last=entry.get("last"),
                base_volume=entry.get("baseVolume"),
                bid=entry.get("bid"),
                ask=entry.get("ask"),
            )
        except BadResponse as exc:
            self._reject(f"bad ticker: {exc}")
            return None

    # --- keeping the socket alive -------------------------------------------------------------

    async def _reconnect_after(self, exc: ExchangeError) -> None:
        self.failures += 1
        self._set_connected(False)
        await self._drop_sockets()
        delay = self.backoff.delay(self.failures)
        logger.warning(
            "%s stream down (%s); reconnecting in %.1fs, attempt %d",
            self.name,
            exc,
            delay,
            self.failures,
        )
        self._waiting = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait({self._waiting})
        finally:
            self._waiting = None

    async def _drop_sockets(self) -> None:
        """Forget every socket now and close them in the background: a dead peer can take
        a while to answer a close, and the next connection must not wait for it."""
        clients = list((self._api.clients or {}).values())
        self._api.clients = {}
        for client in clients:
            # Marked as failed, ccxt's close handler leaves the next socket on this URL alone.
            client.error = client.error or ccxt.NetworkError("dropped by the stream")
            task = asyncio.ensure_future(self._close_quietly(client))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_quietly(client: Any) -> None:
        try:
            await asyncio.wait_for(client.close(), 5)
        except Exception as exc:  # the socket is being thrown away either way
            logger.debug("closing a dropped socket failed: %s", exc)

    def _set_connected(self, up: bool) -> None:
        if up == self._connected:
            return
        self._connected = up
        if up:
            down = self.down_for
            self._down_since = None
            if self.failures:
                logger.warning(
                    "%s stream reconnected to %s after %d failed attempts, down %.1fs",
                    self.name,
                    self.ws_url,
                    self.failures,
                    down,
                )
            else:
                logger.info("%s stream connected to %s", self.name, self.ws_url)
            self.failures = 0
        else:
            self._down_since = time.monotonic()
        if self._on_change is not None:
            self._on_change(up)

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        logger.warning("%s stream: rejected a message: %s", self.name, reason)

    # --- fitting ccxt.pro ---------------------------------------------------------------------

    def _point_socket_at(self, ws_url: str) -> None:
        parts = urlsplit(ws_url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"exchange socket URL must be ws(s)://host[:port]/..., got {ws_url!r}")
        ws = self._api.urls["api"].get("ws")
        if isinstance(ws, dict):
            keys = WS_TICKER_URL_KEYS.get(self.name, ("public",))
            ws = {**ws, **dict.fromkeys(keys, ws_url)}
        else:
            ws = ws_url
        self._api.urls["api"] = {**self._api.urls["api"], "ws": ws}

    def _guard_clients(self) -> None:
        """Wrap each socket ccxt opens so that one bad frame costs only itself.

        ccxt decodes and dispatches frames in a callback: a frame it cannot decode (cut-off
        JSON) or a handler that trips over a payload raises there and silently ends its receive
        loop. The guard also notes when anything at all last arrived (for the silence window)
        and surfaces a refused subscription, which ccxt files under the request id where no
        watcher waits for it.
        """
        make_client = self._api.client

        def client(url: str) -> Any:
            made = make_client(url)
            if not getattr(made, "guarded", False):
                made.handle_message = self._guarded(made, made.handle_message)
                made.guarded = True
            return made

        self._api.client = client

    def _guarded(self, client: Any, handle: Callable[[Any], None]) -> Callable[[Any], None]:
        resolve = client.resolve

        def tapped(result: Any, message_hash: Any) -> Any:
            # ccxt hands each parsed ticker to its watchers here, one per message.
            if isinstance(result, dict) and result.get("symbol") in self.symbols:
                self._updates.append(result)
                self._arrived.set()
            return resolve(result, message_hash)

        def guarded(message: Any) -> None:
            self._heard = time.monotonic()
            try:
                handle(message)
            except Exception as exc:  # one bad frame must not end the socket
                self._reject(f"unreadable frame ({type(exc).__name__}: {exc})")
            if client.rejections:
                refusals = list(client.rejections.values())
                client.rejections.clear()
                client.reject(refusals[0])

        client.resolve = tapped
        return guarded
