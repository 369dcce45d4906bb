"""A stream outlives dropped, killed, silent and babbling sockets, and says when it is down."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from tests.fakes.kraken_ws import FakeKrakenWS

from .streaming import kraken_stream, take_until


@pytest.mark.parametrize("how", ["drop", "kill"])
def test_a_lost_socket_is_reconnected_and_tickers_resume(kraken, kraken_ws, caplog, how):
    caplog.set_level(logging.INFO, logger="tracker.exchanges.stream")
    changes: list[bool] = []

    async def main():
        async with kraken_stream(kraken, kraken_ws, on_change=changes.append) as stream:
            tickers = aiter(stream)
            await take_until(tickers, lambda t: True)
            getattr(kraken_ws, how)()
            kraken.prices.set("BTC/USD", 50000.0)
            await take_until(
                tickers,
                lambda t: t.last == 50000.0 and kraken_ws.connections == 2,
                what="the new price over a second socket",
            )
            assert stream.connected
            assert stream.failures == 0

    asyncio.run(main())
    assert changes == [True, False, True, False]  # up, lost, up again, closed
    lines = [r.getMessage() for r in caplog.records if r.name == "tracker.exchanges.stream"]
    assert sum("stream down" in line for line in lines) == 1
    assert sum("reconnected" in line for line in lines) == 1


def test_a_silent_socket_is_found_dead_within_the_silence_window(kraken, kraken_ws):
    down_after: list[float] = []
    silenced = 0.0

    def on_change(up: bool) -> None:
        if not up and not down_after:
            down_after.append(time.monotonic() - silenced)
            kraken_ws.silence(False)  # the next socket speaks again

    async def main():
        nonlocal silenced
        async with kraken_stream(kraken, kraken_ws, silence=1.0, on_change=on_change) as stream:
            tickers = aiter(stream)
            await take_until(tickers, lambda t: True)
            silenced = time.monotonic()
            kraken_ws.silence()
            await take_until(
                tickers, lambda t: kraken_ws.connections == 2, what="a ticker over a new socket"
            )
            assert stream.connected

    asyncio.run(main())
    # At least the window (less the frame in flight), well inside it plus scheduling slack.
    assert 0.8 <= down_after[0] <= 4.0


def test_heartbeats_keep_a_quiet_socket_alive(kraken, kraken_ws):
    kraken_ws.rate = 0  # snapshots, then only heartbeats (every 0.2 s)

    async def main():
        async with kraken_stream(kraken, kraken_ws, silence=0.6) as stream:
            tickers = aiter(stream)
            await take_until(tickers, lambda t: t.symbol == "ETH/USD")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(tickers), 2.0)  # over three silence windows
            assert stream.connected
            assert stream.failures == 0

    asyncio.run(main())
    assert kraken_ws.connections == 1


def test_garbage_costs_only_itself(kraken, kraken_ws, caplog):
    caplog.set_level(logging.WARNING, logger="tracker.exchanges.stream")
    changes: list[bool] = []

    async def main():
        async with kraken_stream(kraken, kraken_ws, on_change=changes.append) as stream:
            tickers = aiter(stream)
            await take_until(tickers, lambda t: True)
            kraken_ws.send_garbage()
            # cut-off JSON, binary noise, a NaN price: each rejected on its own
            await take_until(tickers, lambda t: stream.rejected >= 3, what="garbage rejected")
            kraken.prices.set("ETH/USD", 2000.0)
            await take_until(tickers, lambda t: t.last == 2000.0, what="the new price")
            assert stream.connected

    asyncio.run(main())
    assert kraken_ws.connections == 1
    assert changes == [True, False]
    reasons = [r.getMessage() for r in caplog.records if "rejected a message" in r.getMessage()]
    assert any("JSONDecodeError" in reason for reason in reasons)
    assert any("not finite" in reason for reason in reasons)


def test_an_unreachable_socket_is_retried_with_growing_pauses(kraken):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)  # no need to wait them out here

    async def main():
        dead = FakeKrakenWS(port=port)  # never started: only its URL
        async with kraken_stream(kraken, dead, sleep=sleep) as stream:
            tickers = aiter(stream)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(tickers), 3.0)
            assert not stream.connected
            assert stream.failures == len(pauses) >= 3
            assert stream.down_for > 0

    asyncio.run(main())
    # Capped, jittered doubling: each pause within [half, all] of base * 2**(n-1), cap 0.2 s.
    for attempt, pause in enumerate(pauses[:3], start=1):
        ceiling = min(0.2, 0.05 * 2 ** (attempt - 1))
        assert ceiling / 2 <= pause <= ceiling
