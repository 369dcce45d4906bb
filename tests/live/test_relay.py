"""Ticks through Redis: numbered once by a shared counter, heard by every listener; Redis
away costs the stream ticks, never the ingest; a listener that lost Redis resets its clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from tests.fakes.tcp_proxy import TcpProxy
from tests.waiting import wait_until
from tracker.live.relay import Listener, Publisher, counter_key
from tracker.live.ticks import MARK, RECORDS, RESET, Hub
from tracker.markets.events import RecordsIngested

pytestmark = pytest.mark.once
T0 = datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)


def event(*values: float) -> RecordsIngested:
    return RecordsIngested(
        exchange_id=1,
        metric_ids=(7,),
        since=T0,
        until=T0,
        count=len(values),
        records=tuple((7, T0, value) for value in values),
    )


def backfill() -> RecordsIngested:
    return RecordsIngested(exchange_id=1, metric_ids=(7,), since=T0, until=T0, count=50_000)


def kinds(hub: Hub) -> list[str]:
    return [entry.kind for entry in hub.read(after=0) or []]


def test_every_listener_hears_each_tick_once_under_the_same_id(redis_url, channel):
    hubs = [Hub(epoch="local"), Hub(epoch="local")]
    listeners = [Listener(url=redis_url, channel=channel, hub=hub) for hub in hubs]
    publisher = Publisher(url=redis_url, channel=channel)
    for listener in listeners:
        listener.start()
    try:
        for listener in listeners:
            assert listener.connected.wait(10)
        publisher(event(1.0))
        publisher(backfill())  # not streamed
        publisher(event(2.0))
        for hub in hubs:
            wait_until(lambda: kinds(hub).count(RECORDS) == 2, timeout=10, what="two ticks")  # noqa: B023
    finally:
        publisher.close()
        for listener in listeners:
            listener.stop()
    ids = [[e.id for e in hub.read(after=0) or [] if e.kind == RECORDS] for hub in hubs]
    assert ids[0] == ids[1]
    stored: Any = redis.Redis.from_url(redis_url).hget(counter_key(channel), "epoch")
    epoch = stored.decode()
    assert ids[0] == [f"{epoch}-1", f"{epoch}-2"]
    assert (
        hubs[0].newest.data
        == b'[{"metric":7,"timestamp":"2024-03-01T12:00:00.500000Z","value":2.0}]'
    )
    assert (publisher.published, publisher.dropped) == (2, 0)
    redis.Redis.from_url(redis_url).delete(counter_key(channel))


def test_redis_away_drops_and_counts_ticks_without_troubling_the_ingest(caplog):
    with TcpProxy(("127.0.0.1", 6379)) as proxy:
        proxy.cut()
        publisher = Publisher(url=f"redis://127.0.0.1:{proxy.port}/15", channel="unused")
        publisher(event(1.0))  # returns at once whatever Redis does
        publisher(event(2.0))
        wait_until(lambda: publisher.dropped == 2, timeout=10, what="two ticks dropped")
        publisher.close()
    assert publisher.published == 0
    warnings = [r for r in caplog.records if "not published" in r.getMessage()]
    assert len(warnings) == 1  # once per outage


def test_a_listener_that_lost_redis_reconnects_and_resets_its_clients(redis_url, channel):
    hub = Hub(epoch="local")
    host, port = "127.0.0.1", int(redis_url.split(":")[2].split("/")[0])
    db = redis_url.rsplit("/", 1)[1]
    publisher = Publisher(url=redis_url, channel=channel)
    with TcpProxy((host, port)) as proxy:
        listener = Listener(url=f"redis://127.0.0.1:{proxy.port}/{db}", channel=channel, hub=hub)
        listener.backoff.base = 0.05
        listener.start()
        try:
            assert listener.connected.wait(10)
            publisher(event(1.0))
            wait_until(lambda: RECORDS in kinds(hub), timeout=10, what="a tick")
            proxy.cut()
            wait_until(lambda: not listener.connected.is_set(), timeout=20, what="the cut")
            publisher(event(2.0))  # missed by this listener
            proxy.restore()
            wait_until(lambda: RESET in kinds(hub), timeout=20, what="a reset after the gap")
            publisher(event(3.0))
            wait_until(lambda: kinds(hub).count(RECORDS) == 2, timeout=10, what="live again")
        finally:
            listener.stop()
            publisher.close()
    assert kinds(hub) == [MARK, MARK, RECORDS, RESET, RECORDS]
    entries = hub.read(after=0) or []
    reset_seq = int(entries[3].id.rsplit("-", 1)[1])
    assert reset_seq == 2  # clients resuming from after the missed tick need no reset
    assert entries[4].id.endswith("-3")
    redis.Redis.from_url(redis_url).delete(counter_key(channel))
