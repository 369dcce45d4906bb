"""The Celery stack through failures: PostgreSQL restarted mid-ingest, Redis stopped, two beats.

One stack for the module: a worker, a beat and `uvicorn` serving the API, polling the stand-in
exchange every second (two pairs, one poll task each). Every one of them reaches PostgreSQL
through one relay and Redis (broker and cache) through another (tests.fakes.tcp_proxy): cut, a
relay drops every connection and refuses new ones, which is what a restarting server looks like
to its clients; the machine's own servers stay up for everything else. The test reads the
database directly, past the relays.

- PostgreSQL away: /readyz answers 503 naming the database on every probe while it is away; back,
  the worker and the beat reconnect by themselves, polls stamped after the restore are stored,
  /readyz is 200 again, no (metric, timestamp) is stored twice.
- Redis away: the API keeps answering from the database; /readyz answers 503 naming the cache
  and the broker on every probe; back, work resumes and /readyz is 200 again. The worker and
  the beat run supervised, as every deployment here runs them: Celery's worker may exit on a
  broker connection reset mid-reconnect (kombu's Redis transport, "Unrecoverable error:
  AttributeError"), and is then started again.
- Two beats and two workers at once: each interval is stored once (the poll stamp is the start of
  the interval, whoever sends it), one price spike fires one alert event, told once, and its end
  is told once.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.kraken import FakeKraken
from tests.fakes.receiver import Receiver
from tests.fakes.tcp_proxy import TcpProxy
from tests.process import manage, tracker_env
from tests.runtime.celery_stack import (
    ALERT_SETUP,
    BEAT,
    QUEUES,
    WORKER,
    Celery,
    Uvicorn,
    btc_prices,
    doubled_records,
    postgres_address,
    postgres_scratch,
    redis_flushed,
    rows,
    through,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.once]  # its own PostgreSQL database and Redis db

REDIS = ("127.0.0.1", 6379)
REDIS_DB = 14
PAIRS = "BTC/USD,ETH/USD"
OUTAGE = 3.0  # seconds a dependency stays away: several polling intervals (one second each)


@dataclass
class Stack:
    database: str  # the URL the test reads with, past the relay
    postgres: TcpProxy
    redis: TcpProxy
    kraken: FakeKraken
    hook: Receiver
    web: Uvicorn
    worker: Celery
    beat: Celery
    env: dict[str, str]

    def logs(self) -> str:
        return f"\n--- worker\n{self.worker.output}\n--- beat\n{self.beat.output}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("celery-failures")
    name = f"celery-failures-{uuid.uuid4().hex[:8]}"
    with ExitStack() as on_exit:
        database = on_exit.enter_context(postgres_scratch("tracker_celeryfail"))
        postgres = on_exit.enter_context(TcpProxy(postgres_address()))
        redis_relay = on_exit.enter_context(TcpProxy(REDIS))
        on_exit.enter_context(redis_flushed(f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}"))
        kraken = on_exit.enter_context(FakeKraken())
        hook = on_exit.enter_context(Receiver("webhook"))
        env = tracker_env(
            workdir,
            DATABASE_URL=through(database, postgres.port),
            DATABASE_TIMEOUT="1",  # a request or a probe gives up on a database away in a second
            REDIS_URL=f"redis://127.0.0.1:{redis_relay.port}/{REDIS_DB}",
            TRACKER_SCHEDULER="celery",
            TRACKER_EXCHANGE_URL=kraken.url,
            TRACKER_PAIRS=PAIRS,
            TRACKER_POLL_CHUNK="1",  # two pairs: two poll tasks per interval
            TRACKER_ALLOW_PRIVATE_WEBHOOKS="true",
            TRACKER_ALERT_POLL="1",
            TRACKER_CACHE_PREFIX=name,
            TRACKER_STREAM_CHANNEL=name,
        )
        direct = {**env, "DATABASE_URL": database}
        migrated = manage("migrate", "--no-input", env=direct, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        created = manage("shell", "-c", ALERT_SETUP % (hook.url + "/alerts"), env=direct)
        assert created.returncode == 0, created.stderr
        beat = on_exit.enter_context(Celery(*BEAT, env=env, restart=True))
        worker = on_exit.enter_context(Celery(*WORKER, env=env, restart=True))
        web = on_exit.enter_context(Uvicorn(env=env))
        yield Stack(database, postgres, redis_relay, kraken, hook, web, worker, beat, env)


def readiness(stack: Stack) -> tuple[int, dict[str, Any]]:
    response = stack.web.get("/readyz")
    return response.status_code, response.json()


def ready(stack: Stack) -> bool:
    return readiness(stack)[0] == 200


def stored_since(stack: Stack, moment: datetime) -> int:
    """Records stamped after `moment`: polls sent after it, not ones already under way."""
    query = "SELECT COUNT(*) FROM markets_record WHERE timestamp > %s"
    return int(rows(stack.database, query, [moment])[0][0])


def running(stack: Stack) -> None:
    """Polling, every check ready: where each test starts and ends."""
    wait_until(
        lambda: len(btc_prices(stack.database)) >= 3,
        timeout=40,
        what=f"three polls{stack.logs()}",
    )
    wait_until(lambda: ready(stack), timeout=30, what=f"/readyz 200{stack.logs()}")


def resumed(stack: Stack, *, after: str) -> None:
    """Back from an outage of `after`: polls stored again (two intervals, two pairs), /readyz
    200 again, every process up."""
    restored = datetime.now(UTC)
    wait_until(
        lambda: stored_since(stack, restored) >= 4,
        timeout=30,
        what=f"polls stored after {after} came back{stack.logs()}",
    )
    wait_until(lambda: ready(stack), timeout=15, what=f"/readyz 200 again{stack.logs()}")
    assert stack.worker.alive() and stack.beat.alive() and stack.web.alive()


def off_grid(stack: Stack) -> list[tuple[Any, ...]]:
    """Records not stamped at the start of an interval (whole seconds, here)."""
    return rows(
        stack.database,
        "SELECT metric_id, timestamp FROM markets_record "
        "WHERE timestamp <> date_trunc('second', timestamp)",
    )


def throughout(seconds: float, probe: Callable[[], None]) -> int:
    """Call `probe()` again and again for `seconds`: an outage is checked the whole time it
    lasts, not once. Returns how many probes ran."""
    probes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        probe()
        probes += 1
    return probes


def test_postgresql_restarted_mid_ingest(stack: Stack):
    running(stack)
    mark = len(stack.worker.lines)
    stack.postgres.cut()
    try:

        def unavailable() -> None:
            status, body = readiness(stack)
            assert status == 503, body
            assert "database" in body["failing"], body
            assert body["checks"]["exchanges"]["status"] == "unknown", body

        assert throughout(OUTAGE, unavailable) >= 2
    finally:
        stack.postgres.restore()
    resumed(stack, after="PostgreSQL")
    # The worker's tasks met the outage (and were tried again or left to the next interval).
    assert "OperationalError" in "".join(stack.worker.lines[mark:]), stack.logs()
    assert doubled_records(stack.database) == []
    assert off_grid(stack) == []


def test_redis_stopped_the_api_serves_and_work_resumes(stack: Stack):
    running(stack)
    (metric, *_) = stack.web.get("/api/v1/metrics").json()
    mark = len(stack.worker.lines)
    stack.redis.cut()
    try:

        def serving_from_the_database() -> None:
            status, body = readiness(stack)
            assert status == 503, body
            assert {"cache", "broker"} <= set(body["failing"]), body
            assert body["checks"]["database"]["status"] == "ok", body
            listed = stack.web.get("/api/v1/metrics")
            assert listed.status_code == 200, listed.text
            assert metric["id"] in [m["id"] for m in listed.json()]
            stored = stack.web.get(f"/api/v1/metrics/{metric['id']}/records")
            assert stored.status_code == 200, stored.text
            assert stored.json(), "the records stored before Redis went away"

        assert throughout(OUTAGE, serving_from_the_database) >= 2
    finally:
        stack.redis.restore()
    resumed(stack, after="Redis")
    # The worker lost its broker for real and came back: by itself, or started again.
    assert "Connection to broker lost" in "".join(stack.worker.lines[mark:]), stack.logs()
    assert doubled_records(stack.database) == []


def test_two_beats_and_two_workers_store_fire_and_tell_once(stack: Stack):
    running(stack)
    told = len(stack.hook.requests)
    mark = len(stack.beat.lines)
    started = datetime.now(UTC)
    second_worker = ("worker", *QUEUES, "--concurrency", "1", "--loglevel", "INFO")
    with Celery(*BEAT, env=stack.env) as beat, Celery(*second_worker, env=stack.env) as worker:
        # Both beats are sending the polls.
        wait_until(
            lambda: beat.output.count("Sending due task tracker:poll:") >= 3,
            timeout=30,
            what=f"the second beat sending polls\n{beat.output}",
        )
        asked, asking = stack.kraken.request_count("Ticker"), datetime.now(UTC)
        calm = btc_prices(stack.database)[-1]
        stack.kraken.prices.set("BTC/USD", calm * 4)
        (firing,) = stack.hook.wait_for(told + 1, timeout=30)[told:]
        assert firing.json()["status"] == "firing"
        stack.kraken.prices.set("BTC/USD", calm)
        (resolved,) = stack.hook.wait_for(told + 2, timeout=30)[told + 1 :]
        assert resolved.json()["status"] == "resolved"
        # A few more intervals, in which a duplicate would have time to turn up.
        settled = datetime.now(UTC)
        wait_until(
            lambda: stored_since(stack, settled) >= 6,
            timeout=30,
            what=f"three more intervals{stack.logs()}",
        )
        assert worker.alive() and beat.alive()
        asked = stack.kraken.request_count("Ticker") - asked
        # The intervals those requests were for: a poll task runs at most two intervals late.
        polled = rows(
            stack.database,
            "SELECT COUNT(DISTINCT timestamp) FROM markets_record WHERE timestamp >= %s",
            [asking - timedelta(seconds=2)],
        )[0][0]
    finished = datetime.now(UTC)
    # Both beats sent the polls all along.
    assert "".join(stack.beat.lines[mark:]).count("Sending due task tracker:poll:") >= 3

    assert doubled_records(stack.database) == []
    assert off_grid(stack) == []
    # One record per metric and interval: as many as there were intervals, not twice as many.
    per_metric = rows(
        stack.database,
        "SELECT metric_id, COUNT(*), COUNT(DISTINCT timestamp) FROM markets_record "
        "WHERE timestamp >= %s AND timestamp <= %s GROUP BY metric_id",
        [started, finished],
    )
    elapsed = (finished - started).total_seconds()
    assert per_metric, "records from the time both beats ran"
    for _, stored, stamps in per_metric:
        assert stored == stamps <= elapsed + 1, (per_metric, elapsed)
    # One poll of each chunk (two) per interval reaches the exchange: two beats do not double
    # its traffic (which counts against its rate limit). The tick that comes second sends
    # nothing. (One interval's polls may still be on their way to the database.)
    assert asked <= 2 * (polled + 1), (asked, polled)
    declined = re.compile(r"tracker\.poll_due\[[^]]+\] succeeded in [0-9.e-]+s: 0$", re.M)
    assert declined.search(stack.worker.output + worker.output), stack.logs()
    # One episode, one delivery of each notice, each sent on its first attempt.
    events = rows(stack.database, "SELECT id, resolved_at FROM alerts_alertevent")
    assert len(events) == 1 and events[0][1] is not None, events
    deliveries = rows(
        stack.database,
        "SELECT notice, state, attempts FROM alerts_delivery ORDER BY notice",
    )
    assert deliveries == [("firing", "sent", 1), ("resolved", "sent", 1)]
    attempts = rows(stack.database, "SELECT COUNT(*) FROM alerts_deliveryattempt")
    assert attempts == [(2,)]
    assert len(stack.hook.requests) == told + 2
