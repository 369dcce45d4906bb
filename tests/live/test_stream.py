"""`GET /api/v1/stream` served by `runtracker` polling the stand-in exchange, read as an
EventSource reads it: ticks arrive as `records` events, filtered, resumable, with heartbeats."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.kraken import FakeKraken
from tests.live.conftest import child_database
from tests.live.sse import SSEClient
from tests.process import manage, tracker_env
from tests.server import TrackerServer
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


@pytest.fixture(scope="module")
def stream_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracker ticking every second, streams beating every second, in process (no Redis)."""
    workdir = tmp_path_factory.mktemp("tracker")
    with FakeKraken() as kraken:
        for url in child_database(workdir):
            env = tracker_env(
                workdir,
                DATABASE_URL=url,
                REDIS_URL="",
                TRACKER_EXCHANGE_URL=kraken.url,
                TRACKER_PAIRS="BTC/USD,ETH/USD",
                TRACKER_STREAM_HEARTBEAT="1",
                TRACKER_THROTTLE_ANON="100000/min",
            )
            migrated = manage("migrate", "--no-input", env=env)
            assert migrated.returncode == 0, migrated.stderr
            with TrackerServer(env=env) as server:
                yield f"{server.url}/api/v1/stream"
                assert server.stop() == 0  # an open stream does not hold the server up


def metric_ids(stream_url: str) -> dict[tuple[str, str], int]:
    metrics = wait_until(
        lambda: httpx.get(stream_url.removesuffix("stream") + "metrics").json(),
        timeout=30,
        what="the pairs to be seeded",
    )
    return {(m["pair"], m["metric"]): m["id"] for m in metrics}


def test_each_tick_arrives_as_a_records_event(stream_url):
    with SSEClient(stream_url) as client:
        assert client.status == 200
        assert client.headers["content-type"].startswith("text/event-stream")
        assert client.headers["cache-control"] == "no-cache"
        assert client.headers["x-accel-buffering"] == "no"
        client.wait_for(lambda: len(client.of("records")) >= 2, timeout=20, what="two ticks")
    assert client.retry == 3000
    first, second = client.of("records")[:2]
    assert first.id and second.id and first.id != second.id
    records: list[dict[str, Any]] = first.json()
    assert len(records) == 10  # two pairs, five metrics each
    assert all(set(r) == {"metric", "timestamp", "value"} for r in records)
    assert all(ISO_UTC.match(r["timestamp"]) and isinstance(r["value"], float) for r in records)
    assert {r["metric"] for r in records} == set(metric_ids(stream_url).values())


def test_metrics_filters_the_records(stream_url):
    ids = metric_ids(stream_url)
    wanted = {ids[("BTC/USD", "price")], ids[("ETH/USD", "volume")]}
    url = f"{stream_url}?metrics={','.join(map(str, wanted))},424242"  # unknown: never sent
    with SSEClient(url) as client:
        client.wait_for(lambda: len(client.of("records")) >= 2, timeout=20, what="two ticks")
    for event in client.of("records"):
        assert {r["metric"] for r in event.json()} == wanted


def test_a_resume_with_last_event_id_loses_nothing_and_repeats_nothing(stream_url):
    with SSEClient(stream_url) as witness:  # connected all along: every tick
        with SSEClient(stream_url) as first:
            first.wait_for(lambda: first.of("records"), timeout=20, what="a tick")
        last_seen = first.last_event_id
        assert last_seen is not None

        def three_ticks_later() -> bool:
            ids = [e.id for e in witness.of("records")]
            return last_seen in ids and len(ids) - ids.index(last_seen) > 3

        witness.wait_for(three_ticks_later, timeout=20, what="three ticks after the client left")
        with SSEClient(stream_url, headers={"Last-Event-ID": last_seen}) as second:
            second.wait_for(lambda: len(second.of("records")) >= 3, timeout=20, what="a replay")
        assert not second.of("reset")
    seen = [e.id for e in first.of("records")] + [e.id for e in second.of("records")]
    everything = [e.id for e in witness.of("records")]
    start = everything.index(seen[0]) if seen[0] in everything else 0
    assert seen == everything[start : start + len(seen)]  # in order, no gap, no repeat


def test_an_old_last_event_id_gets_a_reset_then_live_ticks(stream_url):
    with SSEClient(stream_url, headers={"Last-Event-ID": "12345-1"}) as client:
        client.wait_for(lambda: client.of("records"), timeout=20, what="a tick after the reset")
    (reset,) = client.of("reset")
    assert "12345-1" in reset.json()["reason"]
    assert client.events.index(reset) < client.events.index(client.of("records")[0])


def test_a_quiet_stream_sends_heartbeats(stream_url):
    with SSEClient(f"{stream_url}?metrics=424242") as client:
        client.wait_for(lambda: len(client.comments) >= 2, timeout=10, what="two heartbeats")
    assert set(client.comments) == {"keepalive"}
    assert not client.of("records")


@pytest.mark.parametrize(
    "value", ["a", "0", "-1", "", "1,,2", "1.5", "9" * 40, ",".join(["1"] * 1001)]
)
def test_bad_metrics_are_a_400_naming_the_parameter(stream_url, value):
    answer = httpx.get(
        stream_url, params={"metrics": value}, headers={"Accept": "text/event-stream"}
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert list(answer.json()) == ["metrics"]


def test_other_formats_are_refused_in_json(stream_url):
    answer = httpx.get(stream_url, headers={"Accept": "application/json"})
    assert answer.status_code == 406
    assert answer.json()["detail"]
