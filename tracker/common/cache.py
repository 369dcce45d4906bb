"""The shared cache on Redis, which a Redis outage turns into no cache rather than errors.

The cache only ever saves work (answers the database gives too) and counts requests for the
throttles. While Redis is away, a read is a miss, a write is dropped and a counter starts from
one, so the API and the pages keep answering from the database; throttles let requests through
until Redis is back, except password checks, which are refused while they cannot be counted
(`cache_unavailable`, tracker.accounts.throttles). One WARNING line per outage, one INFO line
when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

RETRY_SECONDS = 2.0

T = TypeVar("T")


class ForgivingRedisCache(RedisCache):
    """Django's RedisCache, with every call answering as an empty cache while Redis fails."""

    _down = False
    _retry_at = 0.0  # time.monotonic() before which a call does not try Redis again
    _lock = threading.Lock()

    def _try(self, call: Callable[[], T], fallback: T) -> T:
        # While Redis is away, one call in RETRY_SECONDS tries it; the others answer at once
        # rather than each waiting out the connection timeout.
        if ForgivingRedisCache._down and time.monotonic() < ForgivingRedisCache._retry_at:
            return fallback
        try:
            result = call()
        except redis.RedisError as exc:
            with self._lock:
                ForgivingRedisCache._retry_at = time.monotonic() + RETRY_SECONDS
                if not ForgivingRedisCache._down:
                    ForgivingRedisCache._down = True
                    logger.warning(
                        "the cache (Redis) is unavailable (%s: %s); serving without it",
                        type(exc).__name__,
                        exc,
                    )
            return fallback
        if ForgivingRedisCache._down:
            with self._lock:
                if ForgivingRedisCache._down:
                    ForgivingRedisCache._down = False
                    logger.info("the cache (Redis) is back")
        return result

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._try(
            lambda: super(ForgivingRedisCache, self).get(key, default, version), default
        )

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._try(lambda: super(ForgivingRedisCache, self).get_many(keys, version), {})

    def add(self, key: Any, value: Any, timeout: Any = 300, version: int | None = None) -> bool:
        # True: the caller counts from one, as for a fresh key.
        return self._try(
            lambda: super(ForgivingRedisCache, self).add(key, value, timeout, version), True
        )

    def set(self, key: Any, value: Any, timeout: Any = 300, version: int | None = None) -> None:
        self._try(lambda: super(ForgivingRedisCache, self).set(key, value, timeout, version), None)

    def set_many(self, data: Any, timeout: Any = 300, version: int | None = None) -> list[Any]:
        return self._try(
            lambda: super(ForgivingRedisCache, self).set_many(data, timeout, version), []
        )

    def touch(self, key: Any, timeout: Any = 300, version: int | None = None) -> bool:
        return self._try(
            lambda: super(ForgivingRedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._try(lambda: super(ForgivingRedisCache, self).delete(key, version), False)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._try(lambda: super(ForgivingRedisCache, self).delete_many(keys, version), None)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._try(lambda: super(ForgivingRedisCache, self).has_key(key, version), False)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._try(lambda: super(ForgivingRedisCache, self).incr(key, delta, version), delta)

    def clear(self) -> None:
        self._try(lambda: super(ForgivingRedisCache, self).clear(), None)


def cache_unavailable() -> bool:
    """Whether the shared cache's last call failed (Redis away); never, for the in-memory one."""
    return ForgivingRedisCache._down
