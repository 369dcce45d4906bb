"""With REDIS_URL, every server process streams every tick, whichever process ingested it, and
a process that both ingests and serves streams each tick once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.live.conftest import child_database
from tests.live.sse import SSEClient
from tests.process import ROOT, ManagedProcess, free_port, manage, tracker_env
from tests.server import TrackerServer
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path, kraken, redis_url, channel) -> Iterator[dict[str, str]]:
    for url in child_database(tmp_path):
        env = tracker_env(
            tmp_path,
            DATABASE_URL=url,
            REDIS_URL=redis_url,
            TRACKER_STREAM_CHANNEL=channel,
            TRACKER_EXCHANGE_URL=kraken.url,
            TRACKER_PAIRS="BTC/USD,ETH/USD",
        )
        migrated = manage("migrate", "--no-input", env=env)
        assert migrated.returncode == 0, migrated.stderr
        yield env


class Uvicorn:
    """`uvicorn config.asgi:application`: a server process that does not ingest."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Uvicorn:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answering, timeout=60, what=f"uvicorn on port {self.port}")
        return self

    def _answering(self) -> bool:
        import httpx

        assert self.proc is not None and self.proc.poll() is None, "uvicorn exited"
        try:
            return httpx.get(f"{self.url}/api/v1/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)


def test_two_servers_both_stream_the_ticks_a_scheduler_ingests(env):
    with (
        Uvicorn(env) as one,
        Uvicorn(env) as two,
        SSEClient(f"{one.url}/api/v1/stream") as first,
        SSEClient(f"{two.url}/api/v1/stream") as second,
        ManagedProcess("runscheduler", env=env) as scheduler,
    ):
        for client in (first, second):
            client.wait_for(
                lambda: len(client.of("records")) >= 3,  # noqa: B023
                timeout=30,
                what="three ticks from the scheduler",
            )
        assert scheduler.stop() == 0
    ids = [[e.id for e in client.of("records")] for client in (first, second)]
    shared = set(ids[0]) & set(ids[1])
    assert len(shared) >= 2  # the same ticks, under the same ids, on both servers
    for client in (first, second):
        for event in client.of("records"):
            assert len(event.json()) == 10


def test_a_server_that_also_ingests_streams_each_tick_once(env):
    with TrackerServer(env=env) as server:
        with SSEClient(f"{server.url}/api/v1/stream") as client:
            client.wait_for(lambda: len(client.of("records")) >= 3, timeout=30, what="3 ticks")
        assert server.stop() == 0
    events = client.of("records")
    ids = [e.id for e in events]
    moments = [tuple(sorted({r["timestamp"] for r in e.json()})) for e in events]
    assert len(set(ids)) == len(ids)
    assert len(set(moments)) == len(moments)  # no tick came twice (in process and via Redis)
