"""The shared cache with Redis away answers as an empty cache, so requests never fail on it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from tests.process import free_port
from tracker.common.cache import ForgivingRedisCache

REDIS_URL = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(autouse=True)
def _no_outage_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as if Redis had always answered (the outage state is per process)."""
    monkeypatch.setattr(ForgivingRedisCache, "_down", False)
    monkeypatch.setattr(ForgivingRedisCache, "_retry_at", 0.0)


def _cache(location: str) -> ForgivingRedisCache:
    return ForgivingRedisCache(
        location, {"KEY_PREFIX": "test-forgiving", "OPTIONS": {"socket_connect_timeout": 1}}
    )


def test_without_redis_reads_miss_writes_drop_and_counters_start_at_one(caplog):
    cache = _cache(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("counter", 1, 10) is True
    assert cache.incr("counter") == 1
    cache.set("k", 1)
    cache.delete("k")
    assert "serving without it" in caplog.text


def test_with_redis_it_is_the_cache():
    cache = _cache(REDIS_URL)
    cache.delete("k")
    assert cache.add("k", 1, 10) is True
    assert cache.add("k", 1, 10) is False
    assert cache.incr("k") == 2
    assert cache.get("k") == 2
    cache.delete("k")


def test_without_redis_password_checks_are_refused_not_uncounted(monkeypatch):
    """A guess that cannot be counted is not tried: sign-in waits for Redis, the rest serves."""
    from tracker.accounts import throttles

    monkeypatch.setattr(throttles, "cache", _cache(f"redis://127.0.0.1:{free_port()}/0"))
    with pytest.raises(throttles.PasswordThrottled) as refused:
        throttles.password_attempt(address="203.0.113.9", username="ada", now=datetime.now(UTC))
    assert refused.value.wait == throttles.UNCOUNTED_WAIT
    monkeypatch.setattr(ForgivingRedisCache, "_down", False)  # Redis is back
    monkeypatch.setattr(throttles, "cache", _cache(REDIS_URL))
    throttles.password_attempt(address="203.0.113.9", username="ada", now=datetime.now(UTC))


def test_while_redis_is_away_calls_do_not_each_wait_for_it(monkeypatch):
    """One call in RETRY_SECONDS tries Redis; the others answer at once, as a miss."""
    import redis
    from django.core.cache.backends.redis import RedisCache

    from tracker.common import cache as forgiving

    tries = []

    def refused(self, key, default=None, version=None):
        tries.append(key)
        raise redis.ConnectionError("refused")

    clock = [1000.0]
    monkeypatch.setattr(RedisCache, "get", refused)
    monkeypatch.setattr(forgiving.time, "monotonic", lambda: clock[0])
    cache = _cache(REDIS_URL)
    assert [cache.get(f"k{i}", "miss") for i in range(5)] == ["miss"] * 5
    assert tries == ["k0"]
    clock[0] += forgiving.RETRY_SECONDS
    assert cache.get("k5", "miss") == "miss"
    assert tries == ["k0", "k5"]  # tried again once the pause was over
