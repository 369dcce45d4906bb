"""A stand-in for Kraken's public WebSocket v2 `ticker` channel on 127.0.0.1, for tests.

It speaks the frames ccxt.pro's kraken client reads (ccxt sends
`{"method": "subscribe", "params": {"channel": "ticker", "symbol": [...]}, "req_id": n}` to
`urls["api"]["ws"]["publicV2"]` and `{"method": "ping"}` every few seconds): a `status` frame on
connect, one ack per subscribed symbol (an error ack for a symbol it does not list), a `snapshot`
then `update` frames per symbol, `heartbeat` frames and pongs. Prices come from a `PriceSource`
like the REST stand-in's, so both can share one. Updates go out at a settable rate, spread over
the subscribed symbols (thousands per second are fine for a benchmark).

It can misbehave the way a socket does: `drop()` closes every connection with a close frame,
`kill()` cuts them without one, `silence()` stops every frame (heartbeats and pongs too) while
keeping the sockets open, `send_garbage()` pushes frames no client can use, and `delist()`
refuses a symbol the REST markets may still list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .kraken import DEFAULT_PAIRS, FakePair, PriceSource, StaticPrices

# Frames a client must survive: not JSON, cut-off JSON, JSON of the wrong shape, a ticker of
# the right shape with numbers no price can be, binary noise.
GARBAGE: tuple[str | bytes, ...] = (
    "not json at all",
    '{"channel": "ticker", "type": "update", "data": [{"symbol": "BTC/US',
    '{"channel": "ticker", "type": "update", "data": "nope"}',
    "[1, 2, 3]",
    '{"channel": "ticker", "type": "update", "data": [{"symbol": "BTC/USD", "last": "NaN", '
    '"volume": "abc", "bid": null, "ask": -5}]}',
    '{"channel": "ticker", "type": "update", "data": [{"symbol": "BTC/USD", "last": 0, '
    '"volume": 1.0}]}',
    b"\x00\xff\xfe binary noise",
)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Peer:
    """One client connection and what it subscribed to."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.symbols: list[str] = []


class FakeKrakenWS:
    """The stand-in socket server. Use as a context manager, or `start()` and `stop()`.

    `rate` is updates per second over all subscribed symbols of a connection (round robin);
    0 sends only snapshots. `heartbeat` is the seconds between heartbeat frames.
    """

    def __init__(
        self,
        *,
        pairs: Sequence[FakePair] = DEFAULT_PAIRS,
        prices: PriceSource | None = None,
        rate: float = 20.0,
        heartbeat: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.pairs = tuple(pairs)
        self.prices: Any = prices if prices is not None else StaticPrices()
        self.rate = rate
        self.heartbeat = heartbeat
        self.host = host
        self.port = port
        self.received: list[dict[str, Any]] = []  # every client frame that parsed as JSON
        self.sent_updates = 0
        self.connections = 0  # accepted so far
        self._symbols = {pair.symbol for pair in self.pairs}
        self._silent = False
        self._peers: set[_Peer] = set()
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    # --- life cycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/v2"

    def start(self) -> FakeKrakenWS:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the stand-in socket server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeKrakenWS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        # No protocol-level pings: ccxt keeps the socket alive with Kraken's own ping frames.
        async with serve(self._handle, self.host, self.port, ping_interval=None) as server:
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stopped.wait()
            for peer in list(self._peers):
                peer.connection.transport.abort()

    # --- misbehaviour -------------------------------------------------------------------------

    def drop(self) -> None:
        """Close every open connection with a close frame (code 1001, going away)."""
        self._each_peer(lambda peer: peer.connection.close(1001, "going away"))

    def kill(self) -> None:
        """Cut every open connection without a close frame, as a dead network does."""

        async def abort(peer: _Peer) -> None:
            peer.connection.transport.abort()

        self._each_peer(abort)

    def silence(self, silent: bool = True) -> None:
        """Send nothing at all (no updates, heartbeats, acks or pongs) until told otherwise."""
        self._silent = silent

    def delist(self, symbol: str) -> None:
        """Refuse new subscriptions to `symbol`, as Kraken does for a pair it no longer lists."""
        self._symbols.discard(symbol)

    def send_garbage(self, frames: Sequence[str | bytes] = GARBAGE) -> None:
        """Push `frames` to every open connection, then carry on as before."""

        async def push(peer: _Peer) -> None:
            for frame in frames:
                await peer.connection.send(frame)

        self._each_peer(push)

    def _each_peer(self, action: Any) -> None:
        """Run `action(peer)` on the server's loop for every open connection, without waiting:
        the client may run on the caller's own loop, which must stay free to answer."""
        if self._loop is None:
            raise RuntimeError("the stand-in is not running")

        async def run_all() -> None:
            for peer in list(self._peers):
                with contextlib.suppress(ConnectionClosed):
                    await action(peer)

        asyncio.run_coroutine_threadsafe(run_all(), self._loop)

    # --- observation --------------------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        return len(self._peers)

    def subscribed(self) -> list[str]:
        """Symbols subscribed on the open connections."""
        return sorted({symbol for peer in list(self._peers) for symbol in peer.symbols})

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` connections have been accepted in all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.connections < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} connections did not arrive in {timeout}s")
                self._changed.wait(left)

    # --- the protocol -------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        peer = _Peer(connection)
        self._peers.add(peer)
        with self._changed:
            self.connections += 1
            self._changed.notify_all()
        tasks = [
            asyncio.create_task(self._heartbeats(peer)),
            asyncio.create_task(self._updates(peer)),
        ]
        try:
            await self._send(peer, self._status())
            async for frame in connection:
                await self._answer(peer, frame)
        except ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            self._peers.discard(peer)

    async def _send(self, peer: _Peer, message: dict[str, Any]) -> None:
        if not self._silent:
            await peer.connection.send(json.dumps(message))

    async def _answer(self, peer: _Peer, frame: str | bytes) -> None:
        try:
            request = json.loads(frame)
        except ValueError:
            await self._send(peer, {"error": "Malformed request", "success": False})
            return
        if not isinstance(request, dict):
            await self._send(peer, {"error": "Malformed request", "success": False})
            return
        self.received.append(request)
        method = request.get("method")
        req_id = request.get("req_id")
        if method == "ping":
            pong = {"method": "pong", "time_in": _stamp(), "time_out": _stamp()}
            await self._send(peer, pong if req_id is None else {**pong, "req_id": req_id})
        elif method in ("subscribe", "unsubscribe"):
            params = request.get("params") or {}
            if params.get("channel") != "ticker":
                error = f"Subscription name invalid {params.get('channel')}"
                await self._send(peer, self._nack(method, error, req_id))
                return
            for symbol in params.get("symbol") or []:
                await self._subscription(peer, method, symbol, params, req_id)
        else:
            await self._send(peer, self._nack(str(method), "Method not found", req_id))

    async def _subscription(
        self, peer: _Peer, method: str, symbol: str, params: dict[str, Any], req_id: Any
    ) -> None:
        if symbol not in self._symbols:
            error = f"Currency pair not supported {symbol}"
            await self._send(peer, {**self._nack(method, error, req_id), "symbol": symbol})
            return
        result = {
            "channel": "ticker",
            "event_trigger": params.get("event_trigger", "trades"),
            "snapshot": params.get("snapshot", True),
            "symbol": symbol,
        }
        ack = {"method": method, "result": result, "success": True}
        ack.update(time_in=_stamp(), time_out=_stamp())
        await self._send(peer, ack if req_id is None else {**ack, "req_id": req_id})
        if method == "unsubscribe":
            if symbol in peer.symbols:
                peer.symbols.remove(symbol)
            return
        if symbol not in peer.symbols:
            peer.symbols.append(symbol)
        if result["snapshot"]:
            await self._send(peer, self._ticker("snapshot", symbol))

    async def _heartbeats(self, peer: _Peer) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            await self._send(peer, {"channel": "heartbeat"})

    async def _updates(self, peer: _Peer) -> None:
        """Send `rate` updates a second, in batches so that high rates need few wake-ups."""
        started = time.monotonic()
        sent = 0
        rate = self.rate
        turn = 0
        while True:
            if self.rate != rate:  # the rate was changed: count afresh from now
                started, sent, rate = time.monotonic(), 0, self.rate
            if rate <= 0 or not peer.symbols:
                await asyncio.sleep(0.05)
                started, sent = time.monotonic(), 0
                continue
            due = int((time.monotonic() - started) * rate) - sent
            for _ in range(due):
                symbols = peer.symbols
                if not symbols:
                    break
                symbol = symbols[turn % len(symbols)]
                turn += 1
                await self._send(peer, self._ticker("update", symbol))
                self.sent_updates += not self._silent
            sent += max(due, 0)
            await asyncio.sleep(min(1.0 / rate, 0.01))

    # --- frames -------------------------------------------------------------------------------

    def _ticker(self, kind: str, symbol: str) -> dict[str, Any]:
        last, volume = self.prices.quote(symbol)
        data = {
            "symbol": symbol,
            "bid": round(last * 0.9998, 8),
            "bid_qty": 0.5,
            "ask": round(last * 1.0002, 8),
            "ask_qty": 1.2,
            "last": last,
            "volume": volume,
            "vwap": last,
            "low": round(last * 0.98, 8),
            "high": round(last * 1.02, 8),
            "change": round(last * 0.01, 8),
            "change_pct": 1.0,
        }
        return {"channel": "ticker", "type": kind, "data": [data]}

    @staticmethod
    def _status() -> dict[str, Any]:
        status = {"system": "online", "api_version": "v2", "connection_id": 1, "version": "2.0.0"}
        return {"channel": "status", "type": "update", "data": [status]}

    @staticmethod
    def _nack(method: str, error: str, req_id: Any) -> dict[str, Any]:
        nack: dict[str, Any] = {"error": error, "method": method, "success": False}
        nack.update(time_in=_stamp(), time_out=_stamp())
        return nack if req_id is None else {**nack, "req_id": req_id}
