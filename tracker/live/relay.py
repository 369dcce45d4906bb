"""Ticks between processes through Redis pub/sub, and how a process's hub is fed.

Without REDIS_URL one process does it all (`runtracker`): the hub follows the ingest event in
process, from its first stream client on. With REDIS_URL every process that ingests publishes
its ticks to a Redis channel and every server process listens to it, so each sees every tick
once, whichever process ingested it; the hub is then fed by the channel only, never also in
process, so no tick arrives twice.

Publishing must never slow down or break an ingest: the ingest event's subscriber only queues
the tick (bounded), and a thread of its own sends it. One Lua script numbers the tick on a
counter shared by all publishers and publishes it, atomically, so ids follow the order of the
messages on the channel. With Redis away a tick is logged, counted and dropped: the stream is
live data, the database keeps the records.

Listening: a thread started on a server process's first stream client. When the connection
breaks it reconnects with backoff, and the hub's clients get a `reset`: ticks published while
it was away were missed. The counter's `epoch` is set when the counter is created; if Redis
lost it (a restart without persistence) ids start over under a new epoch, which no old
`Last-Event-ID` matches.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import orjson
import redis
from django.conf import settings

from tracker.common.backoff import Backoff
from tracker.markets import events
from tracker.markets.events import RecordsIngested

from .ticks import Hub, epoch_new, hub_get, ticks_forward

logger = logging.getLogger(__name__)

# KEYS: the counter, the channel; ARGV: an epoch for a new counter, the message body.
PUBLISH_SCRIPT = """
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local id = redis.call('HGET', KEYS[1], 'epoch') .. '-' .. seq
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[2])
return id
"""
# KEYS: the counter; ARGV: an epoch for a new counter. Answers {epoch, seq}.
READ_SCRIPT = """
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
return {redis.call('HGET', KEYS[1], 'epoch'), tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')}
"""
GAP = "the server lost its connection to the live feed for a while: some ticks were missed"


def counter_key(channel: str) -> str:
    return f"{channel}:counter"


def message_body(event: RecordsIngested) -> bytes:
    return orjson.dumps(event.as_json())


class Publisher:
    """The ingest event's subscriber in processes that ingest: ticks to the Redis channel."""

    def __init__(self, *, url: str, channel: str, limit: int = 1000) -> None:
        self.url = url
        self.channel = channel
        self.published = 0
        self.dropped = 0
        self._queue: queue.Queue[RecordsIngested | None] = queue.Queue(maxsize=limit)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing = False

    def __call__(self, event: RecordsIngested) -> None:
        """In the ingesting thread: queue the tick, never wait. A backfill is not streamed."""
        if not event.records:
            return
        self._thread_start()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            logger.warning(
                "live stream: tick of exchange %d dropped, %d waiting for Redis already "
                "(%d dropped so far)",
                event.exchange_id,
                self._queue.qsize(),
                self.dropped,
            )

    def _thread_start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="stream publisher", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued, then stop the thread (tests)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)
        script = client.register_script(PUBLISH_SCRIPT)
        keys = [counter_key(self.channel), self.channel]
        while (event := self._queue.get()) is not None:
            try:
                script(keys=keys, args=[epoch_new(), message_body(event)])
            except redis.RedisError as exc:
                self.dropped += 1
                # Once per outage, not once per tick.
                log = logger.debug if self._failing else logger.warning
                log(
                    "live stream: tick of exchange %d not published, Redis failed (%s: %s); "
                    "%d dropped so far",
                    event.exchange_id,
                    type(exc).__name__,
                    exc,
                    self.dropped,
                )
                self._failing = True
            else:
                self.published += 1
                if self._failing:
                    logger.info("live stream: publishing to Redis again (%d dropped)", self.dropped)
                self._failing = False
        client.close()


class Listener:
    """A thread feeding `hub` from the Redis channel, reconnecting when the connection breaks."""

    def __init__(self, *, url: str, channel: str, hub: Hub, backoff: Backoff | None = None) -> None:
        self.url = url
        self.channel = channel
        self.hub = hub
        self.backoff = backoff or Backoff(base=0.5, cap=10.0)
        self.connected = threading.Event()
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        first = True
        while not self._stop.is_set():
            client = redis.Redis.from_url(
                self.url, socket_connect_timeout=5, health_check_interval=15
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                # Subscribed before reading the counter: a tick numbered after the read is heard.
                pubsub.subscribe(self.channel)
                read: Any = client.eval(READ_SCRIPT, 1, counter_key(self.channel), epoch_new())
                epoch, seq = read[0].decode(), int(read[1])
                if first:
                    self.hub.mark(epoch=epoch, seq=seq)
                else:
                    self.hub.reset(reason=GAP, epoch=epoch, seq=seq)
                    logger.info("live stream: listening to Redis again")
                first, failures = False, 0
                self.connected.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._take(message["data"])
            except redis.RedisError as exc:
                self.connected.clear()
                failures += 1
                delay = self.backoff.delay(failures)
                (logger.warning if failures == 1 else logger.debug)(
                    "live stream: Redis listener failed (%s: %s); trying again in %.1f s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                self._stop.wait(delay)
            finally:
                pubsub.close()
                client.close()

    def _take(self, data: Any) -> None:
        try:
            id_, _, body = bytes(data).partition(b" ")
            event = RecordsIngested.from_json(orjson.loads(body))
            self.hub.publish(records=event.records, id=id_.decode())
            self.received += 1
        except Exception:
            logger.exception("live stream: a message on %s could not be read", self.channel)


_publisher: Publisher | None = None
_listener: Listener | None = None
_following = False
_lock = threading.Lock()


def relay_wire() -> None:
    """At start-up: with REDIS_URL, this process's ticks go to the Redis channel."""
    global _publisher
    if settings.REDIS_URL and _publisher is None:
        _publisher = Publisher(url=settings.REDIS_URL, channel=settings.TRACKER_STREAM_CHANNEL)
        events.subscribe(_publisher)


def ticks_follow() -> Hub:
    """This process's hub, made to follow the ticks from now on: through the Redis channel
    with REDIS_URL, else in process. Called by each stream client; the first one starts it."""
    global _listener, _following
    hub = hub_get()
    if _following:
        return hub
    with _lock:
        if not _following:
            if settings.REDIS_URL:
                _listener = Listener(
                    url=settings.REDIS_URL, channel=settings.TRACKER_STREAM_CHANNEL, hub=hub
                )
                _listener.start()
            else:
                events.subscribe(ticks_forward)
            _following = True
    return hub


def streams_close() -> None:
    """The server is stopping: end every stream of this process (their clients reconnect to
    another process), else the server would wait for them forever."""
    from .ticks import hub_get

    if _following:
        hub_get().close()


def relay_forget() -> None:
    """Stop following and drop the hub (tests: each starts afresh)."""
    global _listener, _following
    from .ticks import hub_forget

    with _lock:
        if _listener is not None:
            _listener.stop()
            _listener = None
        events.unsubscribe(ticks_forward)
        _following = False
        hub_forget()
