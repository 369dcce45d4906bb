"""The stand-in socket speaks Kraken's WebSocket v2 ticker channel, frame by frame."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.fakes.kraken_ws import GARBAGE, FakeKrakenWS
from tests.waiting import wait_until


@pytest.fixture
def ws() -> Iterator[FakeKrakenWS]:
    with FakeKrakenWS(rate=20, heartbeat=0.2) as fake:
        yield fake


def frames(socket: ClientConnection, count: int, timeout: float = 5.0) -> list[Any]:
    """The next `count` frames, decoded where they are JSON."""
    deadline = time.monotonic() + timeout
    out: list[Any] = []
    while len(out) < count:
        raw = socket.recv(timeout=max(0.0, deadline - time.monotonic()))
        try:
            out.append(json.loads(raw))
        except ValueError:
            out.append(raw)
    return out


def next_frame(socket: ClientConnection, wanted: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The first frame for which `wanted(frame)` is true, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        (frame,) = frames(socket, 1, max(0.0, deadline - time.monotonic()))
        if isinstance(frame, dict) and wanted(frame):
            return frame


def subscribe(socket: ClientConnection, *symbols: str, req_id: int = 7) -> None:
    request = {"method": "subscribe", "params": {"channel": "ticker", "symbol": list(symbols)}}
    socket.send(json.dumps({**request, "req_id": req_id}))


def test_status_on_connect_then_acks_snapshots_and_updates(ws):
    ws.prices.set("BTC/USD", 42000.5, 1234.5)
    with connect(ws.url) as socket:
        (status,) = frames(socket, 1)
        assert status["channel"] == "status"
        assert status["data"][0]["system"] == "online"
        assert status["data"][0]["api_version"] == "v2"

        subscribe(socket, "BTC/USD", "ETH/USD")
        acks: list[dict[str, Any]] = []
        tickers: list[dict[str, Any]] = []
        while len(tickers) < 6:
            frame = next_frame(socket, lambda f: f.get("channel") != "heartbeat")
            (acks if frame.get("method") == "subscribe" else tickers).append(frame)

    assert [(a["success"], a["result"]["symbol"], a["req_id"]) for a in acks] == [
        (True, "BTC/USD", 7),
        (True, "ETH/USD", 7),
    ]
    first: dict[str, str] = {}
    for frame in tickers:
        assert frame["channel"] == "ticker"
        (data,) = frame["data"]
        first.setdefault(data["symbol"], frame["type"])
    assert first == {"BTC/USD": "snapshot", "ETH/USD": "snapshot"}
    assert {f["type"] for f in tickers[2:]} == {"update"}
    btc = next(f["data"][0] for f in tickers if f["data"][0]["symbol"] == "BTC/USD")
    assert btc["last"] == 42000.5
    assert btc["volume"] == 1234.5
    assert btc["bid"] < btc["last"] < btc["ask"]
    wait_until(lambda: not ws.subscribed(), timeout=5, what="the closed socket forgotten")


def test_an_unlisted_symbol_is_refused_in_kraken_words(ws):
    ws.delist("LTC/USD")
    with connect(ws.url) as socket:
        subscribe(socket, "LTC/USD", "NOPE/USD", req_id=9)
        refusals = [next_frame(socket, lambda f: f.get("method") == "subscribe") for _ in "12"]
    assert [r["error"] for r in refusals] == [
        "Currency pair not supported LTC/USD",
        "Currency pair not supported NOPE/USD",
    ]
    assert all(r["success"] is False and r["req_id"] == 9 for r in refusals)


def test_heartbeats_and_pongs(ws):
    ws.rate = 0
    with connect(ws.url) as socket:
        beats = [next_frame(socket, lambda f: f.get("channel") == "heartbeat") for _ in "12"]
        socket.send(json.dumps({"method": "ping", "req_id": 3}))
        pong = next_frame(socket, lambda f: f.get("method") == "pong")
    assert beats == [{"channel": "heartbeat"}] * 2
    assert pong["req_id"] == 3


def test_updates_go_out_at_the_set_rate(ws):
    ws.rate = 2000
    with connect(ws.url) as socket:
        subscribe(socket, "BTC/USD")
        next_frame(socket, lambda f: f.get("type") == "snapshot")
        started = time.monotonic()
        count = 0
        while time.monotonic() - started < 0.5:
            count += next_frame(socket, lambda f: f.get("channel") != "heartbeat") is not None
    # Loose bounds: two cores are shared with other work.
    assert 200 <= count <= 1500


def test_garbage_is_sent_and_then_normal_frames_again(ws):
    with connect(ws.url) as socket:
        subscribe(socket, "BTC/USD")
        next_frame(socket, lambda f: f.get("type") == "snapshot")
        ws.send_garbage()
        seen = frames(socket, 40)
    assert "not json at all" in seen
    assert GARBAGE[-1] in seen
    assert any(isinstance(f, dict) and f.get("type") == "update" for f in seen[-5:])


def test_silence_sends_nothing_until_lifted(ws):
    with connect(ws.url) as socket:
        subscribe(socket, "BTC/USD")
        next_frame(socket, lambda f: f.get("type") == "snapshot")
        ws.silence()
        while True:  # frames already on the wire still arrive
            try:
                socket.recv(timeout=0.1)
            except TimeoutError:
                break
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.6)  # three heartbeat periods
        ws.silence(False)
        assert next_frame(socket, lambda f: True)


@pytest.mark.parametrize("how", ["drop", "kill"])
def test_dropping_and_killing_end_the_connection(ws, how):
    with connect(ws.url) as socket:
        frames(socket, 1)
        getattr(ws, how)()
        with pytest.raises(ConnectionClosed) as closed:
            frames(socket, 1000)  # more than arrive before the end
    if how == "drop":
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    else:
        assert closed.value.rcvd is None  # no close frame: the connection was cut
