"""The parts of the Celery runtime that need no worker: chunks, poll moments, one fan-out per
interval, the beat's schedules following the exchanges table, and the stream owner's lock
changing hands."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django_celery_beat.models import PeriodicTask

from tracker.markets import services
from tracker.markets.models import Exchange, ExchangeMode
from tracker.runtime import tasks
from tracker.runtime.schedules import POLL, STREAM, schedules_sync
from tracker.runtime.stream_owner import OwnerLock, stream_covering, stream_hold
from tracker.runtime.tasks import chunks_count, poll_slot, symbols_chunk

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def test_pairs_are_split_into_chunks_that_cover_each_once():
    symbols = [f"C{i:04d}/USD" for i in range(1201)]
    chunks = chunks_count(len(symbols), size=500)
    assert chunks == 3
    parts = [symbols_chunk(symbols, chunk=c, chunks=chunks) for c in range(chunks)]
    assert sorted(s for part in parts for s in part) == sorted(symbols)
    assert {len(part) for part in parts} == {400, 401}
    assert chunks_count(0, size=500) == 1
    assert chunks_count(500, size=500) == 1


def test_every_poll_of_one_interval_stamps_the_same_moment():
    at = datetime(2026, 1, 1, 12, 0, 10, 900_000, tzinfo=UTC)
    assert poll_slot(at, interval=5) == datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)
    assert poll_slot(at.replace(second=14), interval=5) == poll_slot(at, interval=5)
    assert poll_slot(at, interval=60) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_one_interval_is_fanned_out_once_whoever_sends_its_tick(monkeypatch, settings):
    """Two beats each send the interval's tick: the exchange is asked once per chunk, not
    twice. A tick redelivered after its worker died (the same task id) fans out again."""
    settings.TRACKER_POLL_CHUNK = 1
    exchange = services.exchange_get_or_create(name="kraken")
    services.pairs_create(exchange=exchange, symbols=["BTC/USD", "ETH/USD"])
    sent: list[tuple[int, int, int, str]] = []
    monkeypatch.setattr(tasks.poll_exchange, "apply_async", lambda args, **_: sent.append(args))
    moment = datetime(2026, 1, 1, 12, 0, 10, 300_000, tzinfo=UTC)
    monkeypatch.setattr(tasks, "utc_now", lambda: moment)

    first = tasks.poll_due.apply((exchange.id,), task_id="tick-of-beat-one").get()
    second = tasks.poll_due.apply((exchange.id,), task_id="tick-of-beat-two").get()
    assert (first, second) == (2, 0)
    assert sorted(chunk for (_, chunk, _, _) in sent) == [0, 1]

    redelivered = tasks.poll_due.apply((exchange.id,), task_id="tick-of-beat-one").get()
    assert redelivered == 2 and len(sent) == 4

    moment += timedelta(seconds=exchange.interval)  # the next interval
    assert tasks.poll_due.apply((exchange.id,), task_id="tick-of-beat-two-later").get() == 2


@pytest.mark.django_db
def test_the_beat_schedules_follow_the_exchanges_table():
    kraken = Exchange.objects.create(name="kraken", interval=60)
    schedules_sync()
    task = PeriodicTask.objects.get(name=POLL + "kraken")
    assert (task.task, task.interval.every, task.enabled) == ("tracker.poll_due", 60, True)
    assert json.loads(task.args) == [kraken.id]
    assert schedules_sync() == 0  # nothing changed, nothing written

    kraken.interval = 2.5
    kraken.mode = ExchangeMode.STREAM
    kraken.save()
    schedules_sync()
    assert PeriodicTask.objects.get(name=POLL + "kraken").interval.every == 3
    assert PeriodicTask.objects.get(name=STREAM + "kraken").task == "tracker.stream_own"

    kraken.enabled = False
    kraken.save()
    schedules_sync()
    assert not PeriodicTask.objects.get(name=POLL + "kraken").enabled
    assert not PeriodicTask.objects.get(name=STREAM + "kraken").enabled


@pytest.fixture
def client():
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


def test_one_owner_at_a_time_and_a_dead_one_is_replaced(client):
    exchange_id = int(uuid.uuid4().int % 1_000_000_000)
    first = OwnerLock(client, exchange_id, ttl=0.5)
    second = OwnerLock(client, exchange_id, ttl=0.5)
    assert first.acquire()
    assert not second.acquire()  # a second worker returns at once
    assert first.extend()
    # The first owner dies: nobody extends its lock, it expires and the next claim wins.
    deadline = asyncio.run(_wait_for(second.acquire, timeout=5))
    assert deadline
    assert not first.extend()  # the dead owner cannot take it back
    second.release()
    assert OwnerLock(client, exchange_id, ttl=0.5).acquire()


async def _wait_for(claim, *, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if claim():
            return True
        await asyncio.sleep(0.05)
    return False


def test_the_owner_streams_while_it_holds_the_lock_and_says_it_covers(client):
    exchange_id = int(uuid.uuid4().int % 1_000_000_000)
    lock = OwnerLock(client, exchange_id, ttl=1.5)  # slack for a loaded machine
    assert lock.acquire()
    seen: list[bool] = []

    async def wanted() -> bool:
        seen.append(stream_covering(client, exchange_id))
        return len(seen) < 3  # the exchange leaves mode=stream after a few looks

    async def forever() -> None:
        await asyncio.Event().wait()

    why = asyncio.run(stream_hold(lock, forever(), covering=lambda: True, wanted=wanted))
    assert why == "the exchange no longer streams"
    assert seen[1:] == [True, True]  # covering once the first look said so
    assert not stream_covering(client, exchange_id)  # no longer, after it stopped
    lock.release()
    assert OwnerLock(client, exchange_id, ttl=0.3).acquire()


def test_task_outcomes_are_counted_for_prometheus():
    from prometheus_client import REGISTRY

    from tracker.runtime.celery_signals import task_outcome

    labels = {"task": "tracker.poll_exchange", "outcome": "retry"}
    before = REGISTRY.get_sample_value("tracker_task_outcomes_total", labels) or 0.0
    task_outcome(task="tracker.poll_exchange", outcome="retry")
    assert REGISTRY.get_sample_value("tracker_task_outcomes_total", labels) == before + 1


DATABASE_RETRIED = {
    "tracker.poll_due": (1,),
    "tracker.alerts_evaluate": (1, "2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00", [1]),
    "tracker.deliveries_send": (),
    "tracker.ranks_refresh": (),
    "tracker.housekeeping": (),
    "tracker.schedules_sync": (),
}


def test_a_task_failing_on_the_database_is_tried_again_soon_with_jitter(monkeypatch):
    """Within a minute whatever the attempt (not Celery's fixed 180 s), each wait drawn at
    random below a doubling bound, so workers that failed together do not retry together."""
    from celery import Task
    from celery.exceptions import Retry
    from django.db import OperationalError

    def database_down(*_: object, **__: object) -> None:
        raise OperationalError("the database is restarting")

    for name in ("utc_now", "_exchange", "schedules_sync"):
        monkeypatch.setattr(tasks, name, database_down)
    retried = {
        task.name: task
        for task in vars(tasks).values()
        if isinstance(task, Task) and getattr(task, "autoretry_for", None)
    }
    assert set(retried) == set(DATABASE_RETRIED)
    for name, task in retried.items():
        waits: dict[int, list[float]] = {}

        def retry(
            *,
            exc: BaseException,
            countdown: float,
            task: Task = task,
            waits: dict[int, list[float]] = waits,
            **_: object,
        ) -> None:
            waits.setdefault(task.request.retries, []).append(countdown)
            raise Retry(exc=exc, when=countdown)

        monkeypatch.setattr(task, "retry", retry)
        for attempt in range(task.max_retries):
            for _ in range(20):
                task.apply(DATABASE_RETRIED[name], retries=attempt)
        assert sorted(waits) == list(range(task.max_retries)), name
        for attempt, drawn in waits.items():
            bound = min(tasks.RETRY_BACKOFF_MAX, tasks.RETRY_BACKOFF * 2**attempt)
            assert all(0 <= wait <= bound for wait in drawn), (name, attempt, drawn)
        last = waits[task.max_retries - 1]
        assert len(set(last)) > 1, (name, last)  # jittered, not one fixed wait
    assert retried["tracker.housekeeping"].max_retries == tasks.DATABASE_RETRIES
    assert retried["tracker.deliveries_send"].max_retries == 1  # sent again every second


def test_a_poll_retried_by_hand_waits_the_same_backoff_capped_by_its_interval():
    for attempt in range(6):
        drawn = {tasks.retry_countdown(attempt, maximum=5) for _ in range(50)}
        assert all(0 <= wait <= min(5, tasks.RETRY_BACKOFF * 2**attempt) for wait in drawn)
        assert len(drawn) > 1


def test_a_worker_thread_keeps_one_client_per_exchange_until_a_task_is_cut_short():
    """Tasks of one pool process share a client (markets loaded once); a task interrupted by
    a time limit leaves its client behind, since the coroutine cut short may still use it; a
    failure of the exchange does not."""
    from concurrent.futures import ThreadPoolExecutor

    from celery.exceptions import SoftTimeLimitExceeded

    from tracker.exchanges import ExchangeUnavailable
    from tracker.runtime.worker_clients import exchange_client

    exchange = Exchange(name="kraken", base_url="http://127.0.0.1:9")
    kept = exchange_client("kraken", base_url=exchange.base_url)
    assert exchange_client("kraken", base_url=exchange.base_url) is kept
    assert exchange_client("kraken", base_url="http://127.0.0.1:10") is not kept
    with ThreadPoolExecutor(1) as other:
        elsewhere = other.submit(exchange_client, "kraken", base_url=exchange.base_url).result()
    assert elsewhere is not kept  # a thread pool's tasks run side by side: one client each

    async def exchange_down(client):
        raise ExchangeUnavailable("kraken is unavailable")

    async def cut_short(client):
        raise SoftTimeLimitExceeded()

    with pytest.raises(ExchangeUnavailable):
        tasks._interruptible(exchange, exchange_down, kept)
    assert exchange_client("kraken", base_url=exchange.base_url) is kept
    with pytest.raises(SoftTimeLimitExceeded):
        tasks._interruptible(exchange, cut_short, kept)
    assert exchange_client("kraken", base_url=exchange.base_url) is not kept
