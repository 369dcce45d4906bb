"""Celery workers and beat, for real: Redis as the broker, PostgreSQL, the stand-in exchange.

One run of the multi-process stack (`TRACKER_SCHEDULER=celery`): the beat sends the polls, a
worker stores the records, ranks follow and a spike on BTC/USD reaches the webhook once. Then the
worker is killed with SIGKILL in the middle of its work and started again: polling resumes and
no (metric, timestamp) is stored twice, no alert told twice.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator

import pytest

from tests.fakes.receiver import Receiver
from tests.process import manage, tracker_env
from tests.runtime.celery_stack import (
    ALERT_SETUP,
    BEAT,
    WORKER,
    Celery,
    btc_prices,
    doubled_records,
    postgres_scratch,
    records,
    redis_flushed,
    rows,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.once]  # its own PostgreSQL database and Redis db

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PAIRS = "BTC/USD,ETH/USD"


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_scratch() as url:
        yield url


@pytest.fixture
def broker() -> Iterator[str]:
    with redis_flushed(REDIS_URL) as url:
        yield url


def test_workers_and_beat_poll_rank_alert_and_survive_sigkill(
    tmp_path, kraken, database_url, broker
):
    env = tracker_env(
        tmp_path,
        DATABASE_URL=database_url,
        REDIS_URL=broker,
        TRACKER_SCHEDULER="celery",
        TRACKER_EXCHANGE_URL=kraken.url,
        TRACKER_PAIRS=PAIRS,
        TRACKER_POLL_CHUNK="1",  # two pairs: two poll tasks per interval
        TRACKER_ALLOW_PRIVATE_WEBHOOKS="true",
        TRACKER_ALERT_POLL="1",
        TRACKER_CACHE_PREFIX=f"test-{uuid.uuid4().hex[:8]}",
    )
    migrated = manage("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    with Receiver("webhook") as hook:
        created = manage("shell", "-c", ALERT_SETUP % (hook.url + "/alerts"), env=env)
        assert created.returncode == 0, created.stderr
        with Celery(*BEAT, env=env) as beat:
            with Celery(*WORKER, env=env) as worker:
                wait_until(
                    lambda: len(btc_prices(database_url)) >= 4,
                    timeout=40,
                    what=f"four polls\n{worker.output}\n{beat.output}",
                )
                wait_until(
                    lambda: rows(database_url, "SELECT COUNT(*) FROM markets_metricrank")[0][0],
                    timeout=20,
                    what="a rank snapshot",
                )
                # Each pool process keeps its client: the markets are loaded once per process
                # (two), not once per poll task (two a tick).
                assert kraken.request_count("AssetPairs") <= 2
                calm = btc_prices(database_url)[-1]
                kraken.prices.set("BTC/USD", calm * 4)
                (firing,) = hook.wait_for(1, timeout=30)
                assert firing.json()["status"] == "firing"
                # Mid-work: a poll request reaches the exchange, the worker dies.
                kraken.wait_for_requests("Ticker", kraken.request_count("Ticker") + 1, timeout=10)
                worker.kill(signal.SIGKILL)
            before = records(database_url)
            with Celery(*WORKER, env=env) as worker:
                wait_until(
                    lambda: records(database_url) > before,
                    timeout=30,
                    what=f"polling again after SIGKILL\n{worker.output}",
                )
                kraken.prices.set("BTC/USD", calm)
                (_, resolved) = hook.wait_for(2, timeout=30)
                assert resolved.json()["status"] == "resolved"
    assert doubled_records(database_url) == []
    per_moment = rows(
        database_url, "SELECT COUNT(*) FROM markets_record GROUP BY timestamp ORDER BY timestamp"
    )
    assert {count for (count,) in per_moment[1:-1]} <= {5, 10}, per_moment  # whole chunks
    assert len(hook.requests) == 2  # one firing, one resolved: nothing told twice
