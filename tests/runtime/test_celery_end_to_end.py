"""Celery workers and beat, for real: Redis as the broker, PostgreSQL, the stand-in exchange.

One run of the multi-process stack (`TRACKER_SCHEDULER=celery`): the beat sends the polls, a
worker stores the records, ranks follow and a spike on BTC/USD reaches the webhook once. Then the
worker is killed with SIGKILL in the middle of its work and started again: polling resumes and
no (metric, timestamp) is stored twice, no alert told twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

from tests.fakes.receiver import Receiver
from tests.process import ROOT, SUITE_DATABASE_URL, manage, tracker_env
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.once]  # its own PostgreSQL database and Redis db

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
POSTGRES_URL = (
    SUITE_DATABASE_URL
    if SUITE_DATABASE_URL.startswith("postgres")
    else os.environ.get("TRACKER_TEST_POSTGRES_URL", "postgres://tracker@127.0.0.1:5432/postgres")
)
PAIRS = "BTC/USD,ETH/USD"
SETUP = """
from django.contrib.auth.models import User
from tracker.alerts import services
owner = User.objects.create_user("grace", password="grace's long passphrase")
channel = services.channel_create(
    owner=owner, fields={"name": "hook", "kind": "webhook", "url": "%s", "secret": "k"}
)
services.rule_create(
    owner=owner,
    fields={"name": "price spikes", "kind": "price", "window_seconds": 60, "min_samples": 3},
    channels=[channel],
)
"""


class Celery:
    """`celery -A config <args>` as a child process, its output collected."""

    def __init__(self, *args: str, env: Mapping[str, str]) -> None:
        self.args = args
        self.env = dict(env)
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Celery:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # the worker's pool children go with it
        )
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the worker and its pool) and wait."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signum)
        self.proc.wait(timeout=30)

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    @property
    def output(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def database_url() -> Iterator[str]:
    name = f"tracker_celery_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(POSTGRES_URL)
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as db:
        return db.execute(query).fetchall()


def _btc_prices(url: str) -> list[float]:
    return [
        value
        for (value,) in _rows(
            url,
            "SELECT r.value FROM markets_record r JOIN markets_metric m ON m.id = r.metric_id "
            "JOIN markets_pair p ON p.id = m.pair_id "
            "WHERE p.symbol = 'BTC/USD' AND m.kind = 'price' ORDER BY r.timestamp",
        )
    ]


def _records(url: str) -> int:
    return int(_rows(url, "SELECT COUNT(*) FROM markets_record")[0][0])


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
    queues = ("-Q", "poll,alerts,housekeeping,stream")
    worker_args = ("worker", *queues, "--concurrency", "2", "--loglevel", "INFO")
    beat_args = (
        "beat",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--max-interval",
        "1",
        "--loglevel",
        "INFO",
    )
    with Receiver("webhook") as hook:
        created = manage("shell", "-c", SETUP % (hook.url + "/alerts"), env=env)
        assert created.returncode == 0, created.stderr
        with Celery(*beat_args, env=env) as beat:
            with Celery(*worker_args, env=env) as worker:
                wait_until(
                    lambda: len(_btc_prices(database_url)) >= 4,
                    timeout=40,
                    what=f"four polls\n{worker.output}\n{beat.output}",
                )
                wait_until(
                    lambda: _rows(database_url, "SELECT COUNT(*) FROM markets_metricrank")[0][0],
                    timeout=20,
                    what="a rank snapshot",
                )
                calm = _btc_prices(database_url)[-1]
                kraken.prices.set("BTC/USD", calm * 4)
                (firing,) = hook.wait_for(1, timeout=30)
                assert firing.json()["status"] == "firing"
                # Mid-work: a poll request reaches the exchange, the worker dies.
                kraken.wait_for_requests("Ticker", kraken.request_count("Ticker") + 1, timeout=10)
                worker.kill(signal.SIGKILL)
            before = _records(database_url)
            with Celery(*worker_args, env=env) as worker:
                wait_until(
                    lambda: _records(database_url) > before,
                    timeout=30,
                    what=f"polling again after SIGKILL\n{worker.output}",
                )
                kraken.prices.set("BTC/USD", calm)
                (_, resolved) = hook.wait_for(2, timeout=30)
                assert resolved.json()["status"] == "resolved"
    doubled = _rows(
        database_url,
        "SELECT metric_id, timestamp FROM markets_record GROUP BY metric_id, timestamp "
        "HAVING COUNT(*) > 1",
    )
    assert doubled == []
    per_moment = _rows(
        database_url, "SELECT COUNT(*) FROM markets_record GROUP BY timestamp ORDER BY timestamp"
    )
    assert {count for (count,) in per_moment[1:-1]} <= {5, 10}, per_moment  # whole chunks
    assert len(hook.requests) == 2  # one firing, one resolved: nothing told twice
