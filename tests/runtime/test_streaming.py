"""An exchange in mode=stream: sampled from its socket into records, polled over REST only while
the socket is down (cut or silent), and back on the socket when it returns."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.fakes.tcp_proxy import TcpProxy
from tests.process import ManagedProcess, manage, tracker_env
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

POLL_INTERVAL = 2.0  # REST, while the socket is down
SAMPLE_INTERVAL = 0.25


def query(workdir, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(workdir / "tracker.sqlite3") as db:
        return db.execute(sql, args).fetchall()


def prices(workdir, symbol: str) -> list[float]:
    return [
        value
        for (value,) in query(
            workdir,
            "SELECT r.value FROM markets_record r JOIN markets_metric m ON m.id = r.metric_id "
            "JOIN markets_pair p ON p.id = m.pair_id WHERE p.symbol = ? AND m.kind = 'price' "
            "ORDER BY r.timestamp",
            symbol,
        )
    ]


@pytest.fixture
def socket_relay(kraken_ws):
    """The way to the stand-in socket, to cut and restore like a network."""
    with TcpProxy((kraken_ws.host, kraken_ws.port)) as relay:
        yield relay


@pytest.fixture
def env(tmp_path, kraken, socket_relay) -> dict[str, str]:
    env = tracker_env(
        tmp_path,
        TRACKER_EXCHANGE_URL=kraken.url,
        TRACKER_EXCHANGE_WS_URLS=f"kraken=ws://127.0.0.1:{socket_relay.port}/v2",
        TRACKER_PAIRS="BTC/USD,ETH/USD",
        TRACKER_FETCH_INTERVAL=str(POLL_INTERVAL),
        TRACKER_SAMPLE_INTERVAL=str(SAMPLE_INTERVAL),
        TRACKER_STREAM_SILENCE="1.5",
        TRACKER_EXCHANGE_SYNC="0.3",
    )
    migrated = manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env


def streamed(kraken, tmp_path, price: float) -> None:
    """Wait until a price only the socket can have sent is stored, then check the socket is
    what delivers: REST stands by while it does."""
    kraken.prices.set("BTC/USD", price)
    wait_until(lambda: price in prices(tmp_path, "BTC/USD"), timeout=15, what=f"{price} stored")


def test_a_streamed_exchange_survives_a_cut_and_a_silent_socket(
    env, kraken, kraken_ws, socket_relay, tmp_path
):
    with ManagedProcess("runscheduler", env=env) as tracker:
        kraken.wait_for_requests("Ticker", 1, timeout=30)  # seeded and polled once
        with sqlite3.connect(tmp_path / "tracker.sqlite3") as db:
            db.execute("UPDATE markets_exchange SET mode = 'stream' WHERE name = 'kraken'")
        wait_until(
            lambda: kraken_ws.subscribed() == ["BTC/USD", "ETH/USD"],
            timeout=15,
            what="both pairs subscribed",
        )
        assert f"streaming 2 pairs of kraken from {env['TRACKER_EXCHANGE_WS_URLS'][7:]}" in (
            tracker.output
        )

        # Sampled, not every update: at most one record per pair per sample interval.
        before = len(prices(tmp_path, "BTC/USD"))
        polls = kraken.request_count("Ticker")
        started = time.monotonic()
        streamed(kraken, tmp_path, 50_001.0)
        wait_until(
            lambda: len(prices(tmp_path, "BTC/USD")) >= before + 8,
            timeout=15,
            what="eight more samples",
        )
        elapsed = time.monotonic() - started
        assert len(prices(tmp_path, "BTC/USD")) - before <= elapsed / SAMPLE_INTERVAL + 2
        # REST stood by: at most the poll already under way when the socket came up.
        assert kraken.request_count("Ticker") <= polls + 1

        # The socket cut, and no new one for a while: REST polls meanwhile.
        socket_relay.cut()
        kraken.prices.set("BTC/USD", 50_002.0)
        wait_until(
            lambda: 50_002.0 in prices(tmp_path, "BTC/USD"),
            timeout=15,
            what="a REST poll while the socket is cut",
        )
        kraken.wait_for_requests("Ticker", kraken.request_count("Ticker") + 1, timeout=15)
        # The network back: the stream reconnects and REST stands by again.
        connections = kraken_ws.connections
        socket_relay.restore()
        kraken_ws.wait_for_connections(connections + 1, timeout=30)
        streamed(kraken, tmp_path, 50_003.0)

        # A silent socket: found dead after TRACKER_STREAM_SILENCE, replaced, REST meanwhile.
        before_silence = kraken_ws.connections
        kraken_ws.silence()
        wait_until(
            lambda: "stream silent for over 1.5s" in tracker.output,
            timeout=15,
            what="the silence noticed",
        )
        kraken.prices.set("BTC/USD", 50_004.0)
        wait_until(  # only REST can deliver it: the socket says nothing
            lambda: 50_004.0 in prices(tmp_path, "BTC/USD"),
            timeout=15,
            what="a REST poll while the socket is silent",
        )
        kraken_ws.silence(False)
        # Sockets opened while it was silent fell silent too; the one after is live again.
        wait_until(
            lambda: tracker.output.count("kraken stream reconnected") >= 2,
            timeout=60,
            what="the stream back after the silence",
        )
        assert kraken_ws.connections > before_silence
        polls = kraken.request_count("Ticker")
        streamed(kraken, tmp_path, 50_005.0)
        assert kraken.request_count("Ticker") <= polls + 1  # REST stands by again

        health = query(
            tmp_path,
            "SELECT mode, consecutive_failures, last_success IS NOT NULL FROM markets_exchange",
        )
        assert health == [("stream", 0, 1)]
        assert tracker.stop() == 0


def test_pairs_added_and_removed_while_streaming_are_subscribed_anew(
    env, kraken, kraken_ws, tmp_path
):
    with ManagedProcess("runscheduler", env=env) as tracker:
        kraken.wait_for_requests("Ticker", 1, timeout=30)
        with sqlite3.connect(tmp_path / "tracker.sqlite3") as db:
            db.execute("UPDATE markets_exchange SET mode = 'stream' WHERE name = 'kraken'")
        kraken_ws.wait_for_connections(1, timeout=15)

        added = manage("pairs", "add", "kraken", "LTC/USD", "--hours", "0", env=env)
        assert added.returncode == 0, added.stderr
        wait_until(
            lambda: kraken_ws.subscribed() == ["BTC/USD", "ETH/USD", "LTC/USD"],
            timeout=15,
            what="LTC/USD subscribed",
        )
        wait_until(lambda: prices(tmp_path, "LTC/USD"), timeout=15, what="LTC/USD streamed")

        removed = manage("pairs", "remove", "kraken", "ETH/USD", env=env)
        assert removed.returncode == 0, removed.stderr
        wait_until(
            lambda: kraken_ws.subscribed() == ["BTC/USD", "LTC/USD"],
            timeout=15,
            what="ETH/USD no longer subscribed",
        )

        # Back to polling through the table, as PATCH /api/v1/exchanges/kraken does it.
        with sqlite3.connect(tmp_path / "tracker.sqlite3") as db:
            db.execute("UPDATE markets_exchange SET mode = 'poll' WHERE name = 'kraken'")
        wait_until(lambda: kraken_ws.open_connections == 0, timeout=15, what="the socket closed")
        assert "stopped streaming kraken: mode=poll" in tracker.output
        kraken.wait_for_requests("Ticker", kraken.request_count("Ticker") + 2, timeout=15)
        assert tracker.stop() == 0
