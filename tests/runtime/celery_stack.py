"""The pieces of the Celery stack's process tests: worker, beat and web server as child
processes, a scratch PostgreSQL database, a Redis database of their own, and queries on them.

The tests marked `once` run on SQLite in CI, so the PostgreSQL server comes from the suite's
DATABASE_URL when that is PostgreSQL, else from TRACKER_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis

from tests.process import ROOT, SUITE_DATABASE_URL, free_port, postgres_database
from tests.waiting import wait_until

POSTGRES_URL = (
    SUITE_DATABASE_URL
    if SUITE_DATABASE_URL.startswith("postgres")
    else os.environ.get("TRACKER_TEST_POSTGRES_URL", "postgres://tracker@127.0.0.1:5432/postgres")
)
QUEUES = ("-Q", "poll,alerts,housekeeping,stream")
WORKER = ("worker", *QUEUES, "--concurrency", "2", "--loglevel", "INFO")
BEAT = (
    "beat",
    "--scheduler",
    "django_celery_beat.schedulers:DatabaseScheduler",
    "--max-interval",
    "1",
    "--loglevel",
    "INFO",
)
# A user, a webhook channel to `%s` and a rule on price spikes.
ALERT_SETUP = """
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


class Child:
    """A child process started with `argv` from the repository root, its output collected.

    In a session of its own, so a signal reaches its children too (a worker's pool). With
    `restart`, it is supervised as every deployment here runs it (`make prod`'s loop, the compose
    file's restart policy, Kubernetes): started again a second after it exits, unless the test
    killed it; `restarts` counts those."""

    def __init__(
        self, argv: Sequence[str], *, env: Mapping[str, str], restart: bool = False
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.restart = restart
        self.restarts = 0
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._killed = False

    def __enter__(self) -> Child:
        self._start()
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def _drain(self) -> None:
        while True:
            proc = self.proc
            assert proc is not None and proc.stdout is not None
            for line in proc.stdout:
                self.lines.append(line)
            status = proc.wait()
            if not self.restart or self._killed:
                return
            self.lines.append(f"--- exited with {status}; started again in 1 s\n")
            time.sleep(1)  # as a supervisor waits before starting it again
            if self._killed:
                return
            self.restarts += 1
            self._start()

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Signal the whole process group and wait."""
        assert self.proc is not None
        self._killed = True
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signum)
        self.proc.wait(timeout=30)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    @property
    def output(self) -> str:
        return "".join(self.lines)


class Celery(Child):
    """`celery -A config <args>`."""

    def __init__(self, *args: str, env: Mapping[str, str], restart: bool = False) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "config", *args]
        super().__init__(argv, env=env, restart=restart)

    def __enter__(self) -> Celery:
        super().__enter__()
        return self


class Uvicorn(Child):
    """`uvicorn config.asgi:application` on a free port; entering waits until it answers."""

    def __init__(self, *, env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "uvicorn", "config.asgi:application"]
        super().__init__([*argv, "--port", str(self.port), "--no-proxy-headers"], env=env)

    def __enter__(self) -> Uvicorn:
        super().__enter__()
        wait_until(self._answering, timeout=60, what=f"uvicorn on port {self.port}")
        return self

    def _answering(self) -> bool:
        if not self.alive():
            raise AssertionError(f"uvicorn exited:\n{self.output}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)


def postgres_scratch(prefix: str = "tracker_celery") -> AbstractContextManager[str]:
    """The URL of a new, empty database on the PostgreSQL server; dropped afterwards."""
    return postgres_database(server_url=POSTGRES_URL, prefix=prefix)


def postgres_address() -> tuple[str, int]:
    parts = urlsplit(POSTGRES_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def through(url: str, port: int) -> str:
    """`url` with its host and port replaced by 127.0.0.1:`port` (a relay's)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def redis_flushed(url: str) -> Iterator[str]:
    """The Redis database at `url`, emptied before and after."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def rows(url: str, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as db:
        return db.execute(query, params).fetchall()


def records(url: str) -> int:
    return int(rows(url, "SELECT COUNT(*) FROM markets_record")[0][0])


def btc_prices(url: str) -> list[float]:
    return [
        value
        for (value,) in rows(
            url,
            "SELECT r.value FROM markets_record r JOIN markets_metric m ON m.id = r.metric_id "
            "JOIN markets_pair p ON p.id = m.pair_id "
            "WHERE p.symbol = 'BTC/USD' AND m.kind = 'price' ORDER BY r.timestamp",
        )
    ]


def doubled_records(url: str) -> list[tuple[Any, ...]]:
    """(metric, timestamp) stored more than once: none, ever."""
    return rows(
        url,
        "SELECT metric_id, timestamp FROM markets_record GROUP BY metric_id, timestamp "
        "HAVING COUNT(*) > 1",
    )
