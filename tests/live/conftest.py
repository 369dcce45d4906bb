"""Fixtures of the stream tests: a database URL for child trackers, Redis, and a fresh hub."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import ON_POSTGRESQL, postgres_database

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture(autouse=True)
def _fresh_stream() -> Iterator[None]:
    """Each test's stream starts with an empty hub and follows nothing yet."""
    from tracker.live.relay import relay_forget

    relay_forget()
    yield
    relay_forget()


def child_database(workdir: Path) -> Iterator[str]:
    """A database for child trackers, on the suite's kind of server."""
    if ON_POSTGRESQL:
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'tracker.sqlite3'}"


@pytest.fixture
def redis_url() -> str:
    """Redis, db 15 unless REDIS_URL names one; the test fails if it is not running."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not answering at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture
def channel() -> str:
    """A channel of this test's own: pub/sub channels are shared by all of a server's dbs."""
    return f"tracker-test:{uuid.uuid4().hex[:12]}"
