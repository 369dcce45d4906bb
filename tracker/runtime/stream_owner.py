"""One owner per streamed exchange among all workers: a Redis lock with an expiry.

`tracker.stream_own` (tracker.runtime.tasks) is enqueued by the beat every few seconds for each
exchange in mode=stream. The worker that takes the lock streams the exchange for as long as it
holds it, extending it every third of `ttl`; any other worker returns at once. A worker that
dies stops extending, the lock expires after `ttl` seconds and the next enqueued task takes over.
While the owner's socket delivers, it keeps the "covering" key alive, and the poll tasks of the
exchange stand by (as the embedded scheduler's poll job does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import redis
from django.conf import settings
from redis.exceptions import LockError

logger = logging.getLogger(__name__)


def owner_key(exchange_id: int) -> str:
    return f"tracker:stream-owner:{exchange_id}"


def covering_key(exchange_id: int) -> str:
    return f"tracker:stream-covering:{exchange_id}"


def redis_client() -> redis.Redis:
    url = settings.REDIS_URL or settings.CELERY_BROKER_URL
    return redis.Redis.from_url(url)


class OwnerLock:
    """The right to stream one exchange, held while extended."""

    def __init__(self, client: redis.Redis, exchange_id: int, *, ttl: float) -> None:
        self.client = client
        self.exchange_id = exchange_id
        self.ttl = ttl
        # Not thread-local: the lock is extended from a thread other than the one that took it.
        self._lock = client.lock(
            owner_key(exchange_id), timeout=ttl, blocking=False, thread_local=False
        )

    def acquire(self) -> bool:
        return bool(self._lock.acquire(blocking=False))

    def extend(self) -> bool:
        """Reset the expiry to `ttl`; False if the lock was lost (expired, taken over)."""
        try:
            return bool(self._lock.reacquire())
        except LockError:
            return False

    def release(self) -> None:
        with contextlib.suppress(LockError):  # expired already: nothing to give back
            self._lock.release()

    def covering(self, covering: bool) -> None:
        key = covering_key(self.exchange_id)
        if covering:
            self.client.set(key, "1", px=int(self.ttl * 1000))
        else:
            self.client.delete(key)


def stream_covering(client: redis.Redis, exchange_id: int) -> bool:
    """True while the exchange's owner says its socket delivers."""
    return bool(client.exists(covering_key(exchange_id)))


async def stream_hold(
    lock: OwnerLock,
    stream: Awaitable[None],
    *,
    covering: Callable[[], bool],
    wanted: Callable[[], Awaitable[bool]],
) -> str:
    """Run `stream` while the lock is extended and `wanted()` says so; say why it ended."""
    task = asyncio.ensure_future(stream)
    why = "the stream ended"
    try:
        while not task.done():
            done, _ = await asyncio.wait({task}, timeout=lock.ttl / 3)
            if done:
                break
            if not await asyncio.to_thread(lock.extend):
                why = "the lock was lost"
                break
            if not await wanted():
                why = "the exchange no longer streams"
                break
            await asyncio.to_thread(lock.covering, covering())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(lock.covering, False)
    if task.done() and not task.cancelled() and task.exception() is not None:
        why = f"the stream failed ({type(task.exception()).__name__}: {task.exception()})"
    return why
