"""The Celery tasks of `TRACKER_SCHEDULER=celery`: each takes ids and calls a service.

The beat (schedules in the database, tracker.runtime.schedules) sends `poll_due` per exchange
every `Exchange.interval` seconds; it fans out one `poll_exchange` per chunk of
`TRACKER_POLL_CHUNK` active pairs, all stamped with the same moment: the start of the interval
they belong to. Records are unique on (metric, timestamp) and written `ON CONFLICT DO NOTHING`,
so a poll sent twice or run twice (a worker killed before its acknowledgement) stores its records
once; and the first tick of an interval claims it (in the cache), so two beats do not ask the
exchange twice. Each committed ingest enqueues `alerts_evaluate` (an open episode is unique per
rule and metric, so an evaluation run twice fires once) and, at most once a second, a rank
refresh; deliveries are claimed atomically before they are sent. Queues: `poll`, `alerts`,
`housekeeping`, `stream`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from celery import Task, shared_task
from celery.signals import beat_init, worker_init
from django.conf import settings
from django.core.cache import cache
from django.db.utils import Error as DatabaseFailure

from tracker.alerts.delivery import deliveries_due
from tracker.alerts.evaluate import alerts_evaluate
from tracker.common.clock import utc_now
from tracker.common.database import connections_drop, database_error_text
from tracker.exchanges import ExchangeClient, ExchangeError, UnknownSymbol
from tracker.ingest.services import PollResult, exchange_poll, pairs_seed
from tracker.ingest.streamer import Streamer
from tracker.markets import events, selectors, services
from tracker.markets.models import Exchange, ExchangeMode, Pair

# Signal receivers: task outcomes counted in one place; the worker's own /metrics port.
from . import celery_signals, worker_metrics  # noqa: F401
from .alerts import delivery_send
from .housekeeping import housekeeping_run
from .schedules import schedules_prepare, schedules_sync
from .stream_owner import OwnerLock, redis_client, stream_covering, stream_hold
from .worker_clients import exchange_client, exchange_client_forget

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 3
# A task that fails on the database is tried again after about 2, 4, 8, 16, 32 s, each wait drawn
# at random below that ("full jitter": workers that failed together do not come back together)
# and never above RETRY_BACKOFF_MAX. Celery's default without a backoff is a fixed 180 s.
RETRY_BACKOFF = 2
RETRY_BACKOFF_MAX = 60
DATABASE_RETRIES = 5
RANKS_COALESCE = 1.0  # seconds: ingests within one are covered by one rank refresh


def database_retry(*, max_retries: int = DATABASE_RETRIES) -> dict[str, Any]:
    """The options of a task retried on a database error: `@shared_task(**database_retry())`."""
    return {
        "autoretry_for": (DatabaseFailure,),
        "retry_backoff": RETRY_BACKOFF,
        "retry_backoff_max": RETRY_BACKOFF_MAX,
        "retry_jitter": True,
        "max_retries": max_retries,
    }


def retry_countdown(retries: int, *, maximum: float) -> float:
    """The wait before retry number `retries` + 1 of a task that retries by hand: the same
    backoff as database_retry's, capped at `maximum` too."""
    cap = min(RETRY_BACKOFF_MAX, maximum)
    return random.uniform(0, min(cap, RETRY_BACKOFF * 2.0**retries))  # noqa: S311 (not a secret)


def chunks_count(pairs: int, *, size: int) -> int:
    return max(1, math.ceil(pairs / size))


def symbols_chunk(symbols: Sequence[str], *, chunk: int, chunks: int) -> list[str]:
    """The symbols of chunk `chunk` of `chunks`: every chunks-th one of the sorted list, so
    chunks differ in size by one at most."""
    return sorted(symbols)[chunk::chunks]


def poll_slot(now: datetime, *, interval: float) -> datetime:
    """The start of the interval `now` falls in: every poll of that interval stamps it."""
    seconds = math.floor(now.timestamp() / interval) * interval
    return datetime.fromtimestamp(seconds, tz=UTC)


def _exchange(exchange_id: int) -> Exchange | None:
    return Exchange.objects.filter(id=exchange_id, enabled=True).first()


def _client(exchange: Exchange) -> ExchangeClient:
    return ExchangeClient(
        exchange.name, base_url=exchange.base_url, timeout=settings.TRACKER_EXCHANGE_TIMEOUT
    )


async def _seed(client: ExchangeClient, exchange: Exchange) -> None:
    seed = next((s for s in settings.TRACKER_EXCHANGE_SEEDS if s.name == exchange.name), None)
    try:
        await pairs_seed(
            client=client,
            base_url=exchange.base_url,
            symbols=seed.required if seed else (),
            optional=seed.optional if seed else (),
        )
    finally:
        await client.release()


async def _poll(
    client: ExchangeClient, exchange: Exchange, symbols: list[str], at: datetime
) -> PollResult:
    try:
        return await exchange_poll(client=client, exchange=exchange, now=at, symbols=symbols)
    finally:
        await client.release()


def _interruptible(
    exchange: Exchange, work: Callable[..., Awaitable[T]], client: ExchangeClient, *args: Any
) -> T:
    """Run `work(client, *args)` on an event loop of its own. Interrupted other than by the
    exchange or the database (a time limit, a signal), the worker forgets the client: the
    coroutine cut short may still be using it."""
    try:
        return async_to_sync(work)(client, *args)
    except (ExchangeError, DatabaseFailure):
        raise
    except BaseException:
        exchange_client_forget(exchange.name, base_url=exchange.base_url)
        raise


def _health(exchange: Exchange, exc: BaseException | None) -> None:
    error = "" if exc is None else f"{type(exc).__name__}: {exc}"[:2000]
    try:
        services.exchange_health_record(name=exchange.name, now=utc_now(), error=error)
    except DatabaseFailure:
        connections_drop()


def slot_claim(exchange_id: int, at: datetime, *, interval: float, claimant: str) -> bool:
    """Whether `claimant` (a task id) is the one to send the polls of this exchange's interval
    starting `at`: the first to ask, or the same task again (redelivered after its worker died).
    Two beats each send a tick per interval; the exchange is asked once. Kept in the cache,
    shared through Redis; while the cache is away every claimant is the one."""
    key = f"tracker:poll-sent:{exchange_id}:{at.timestamp():.0f}"
    ttl = max(1, math.ceil(2 * interval))
    return bool(cache.add(key, claimant, timeout=ttl)) or cache.get(key) == claimant


@shared_task(name="tracker.poll_due", bind=True, **database_retry())
def poll_due(self: Task, exchange_id: int) -> int:
    """Send the polls of one exchange for this interval: one task per chunk of its pairs,
    unless another tick of the same interval (another beat's) has sent them."""
    exchange = _exchange(exchange_id)
    if exchange is None:
        return 0
    if exchange.mode == ExchangeMode.STREAM and stream_covering(redis_client(), exchange_id):
        return 0  # its stream delivers
    if not Pair.objects.filter(exchange=exchange).exists():
        try:
            client = exchange_client(exchange.name, base_url=exchange.base_url)
            _interruptible(exchange, _seed, client, exchange)
        except UnknownSymbol as exc:
            logger.error("cannot seed pairs on %s: %s. Fix TRACKER_PAIRS.", exchange.name, exc)
            return 0
        except ExchangeError as exc:
            logger.warning("cannot seed pairs on %s yet (%s)", exchange.name, exc)
            _health(exchange, exc)
            return 0
    symbols = selectors.pair_symbols_active(exchange_id=exchange_id)
    chunks = chunks_count(len(symbols), size=settings.TRACKER_POLL_CHUNK)
    at = poll_slot(utc_now(), interval=exchange.interval)
    if not slot_claim(exchange_id, at, interval=exchange.interval, claimant=str(self.request.id)):
        return 0
    for chunk in range(chunks):
        poll_exchange.apply_async(
            (exchange_id, chunk, chunks, at.isoformat()),
            expires=at + timedelta(seconds=2 * exchange.interval),
        )
    return chunks


@shared_task(name="tracker.poll_exchange", bind=True, max_retries=RETRIES)
def poll_exchange(self: Task, exchange_id: int, chunk: int, chunks: int, at: str) -> int:
    """Poll one chunk of an exchange's pairs and store it stamped `at`. Returns records stored.

    An exchange or database failure is tried again with exponential backoff, as long as the
    retry lands before the next interval's poll, which covers it otherwise."""
    exchange = _exchange(exchange_id)
    if exchange is None:
        return 0
    stamp = datetime.fromisoformat(at)
    symbols = symbols_chunk(
        selectors.pair_symbols_active(exchange_id=exchange_id), chunk=chunk, chunks=chunks
    )
    if not symbols:
        return 0
    try:
        client = exchange_client(exchange.name, base_url=exchange.base_url)
        result = _interruptible(exchange, _poll, client, exchange, symbols, stamp)
    except (ExchangeError, DatabaseFailure) as exc:
        if isinstance(exc, DatabaseFailure):
            connections_drop()  # a broken connection: the retry opens a fresh one
            text = database_error_text(exc)
        else:
            text = str(exc)
        _health(exchange, exc)
        countdown = retry_countdown(self.request.retries, maximum=exchange.interval)
        late = utc_now() + timedelta(seconds=countdown) >= stamp + timedelta(
            seconds=2 * exchange.interval
        )
        if self.request.retries >= RETRIES or late:
            logger.warning(
                "poll of %s (chunk %d/%d) failed (%s: %s); the next interval's poll covers it",
                exchange.name,
                chunk + 1,
                chunks,
                type(exc).__name__,
                text,
            )
            return 0
        logger.warning(
            "poll of %s (chunk %d/%d) failed (%s: %s); again in %.0fs",
            exchange.name,
            chunk + 1,
            chunks,
            type(exc).__name__,
            text,
            countdown,
        )
        raise self.retry(exc=exc, countdown=countdown) from exc
    _health(exchange, None)
    return result.stored


@shared_task(name="tracker.alerts_evaluate", **database_retry())
def alerts_evaluate_task(
    exchange_id: int, since: str, until: str, metric_ids: list[int], count: int = 0
) -> int:
    """Evaluate the rules watching these metrics on their records in [since, until]."""
    event = events.RecordsIngested(
        exchange_id=exchange_id,
        metric_ids=tuple(metric_ids),
        since=datetime.fromisoformat(since),
        until=datetime.fromisoformat(until),
        count=count,
    )
    outcome = alerts_evaluate(event=event, now=utc_now())
    if outcome.fired or outcome.resolved:
        deliveries_send.delay()
    return outcome.fired + outcome.resolved


# Sent every TRACKER_ALERT_POLL seconds: one retry, the next send covers the rest.
@shared_task(name="tracker.deliveries_send", **database_retry(max_retries=1))
def deliveries_send() -> int:
    """Hand each due delivery to a task of its own; each claims its delivery before sending."""
    due = deliveries_due(now=utc_now(), limit=100)
    for delivery_id, _ in due:
        deliveries_send_one.delay(delivery_id)
    return len(due)


@shared_task(name="tracker.deliveries_send_one")
def deliveries_send_one(delivery_id: int) -> None:
    delivery_send(delivery_id)  # claims first: a delivery another worker holds is left alone


@shared_task(name="tracker.ranks_refresh", **database_retry())
def ranks_refresh_task() -> int:
    refreshed = services.ranks_refresh(kinds=services.metric_kinds_configured(), now=utc_now())
    return len(refreshed)


@shared_task(name="tracker.housekeeping", **database_retry())
def housekeeping_task() -> int:
    return housekeeping_run(now=utc_now()).records


@shared_task(name="tracker.schedules_sync", **database_retry())
def schedules_sync_task() -> int:
    return schedules_sync()


# An owner streams for days: None would not lift the limit (Celery falls back to the global
# CELERY_TASK_TIME_LIMIT, five minutes), so it gets a long one of its own; when it ends, the
# beat's next send (every 30 s) starts a new owner.
STREAM_RUN_SECONDS = 7 * 86400


@shared_task(
    name="tracker.stream_own",
    acks_late=False,
    time_limit=STREAM_RUN_SECONDS,
    soft_time_limit=STREAM_RUN_SECONDS - 60,
)
def stream_own(exchange_id: int) -> str:
    """Stream one exchange while this worker holds its owner lock; return at once otherwise.

    Acknowledged on receipt: the beat sends it again every few seconds, so a dead owner's
    task is replaced by a new one once the lock has expired, not by a redelivery."""
    exchange = _exchange(exchange_id)
    if exchange is None or exchange.mode != ExchangeMode.STREAM:
        return "not streamed"
    lock = OwnerLock(redis_client(), exchange_id, ttl=settings.TRACKER_STREAM_LOCK)
    if not lock.acquire():
        return "owned elsewhere"
    try:
        logger.info("streaming %s from this worker", exchange.name)
        why = async_to_sync(_stream)(exchange, lock)
        logger.info("stopped streaming %s: %s", exchange.name, why)
        return why
    finally:
        lock.release()
        connections_drop()


async def _stream(exchange: Exchange, lock: OwnerLock) -> str:
    client = _client(exchange)
    streamer = Streamer(
        client=client,
        ws_url=exchange.ws_url,
        sample_interval=settings.TRACKER_SAMPLE_INTERVAL,
        silence=settings.TRACKER_STREAM_SILENCE,
        resync=settings.TRACKER_EXCHANGE_SYNC,
        health_every=exchange.interval,
    )

    async def wanted() -> bool:
        def read() -> bool:
            try:
                return Exchange.objects.filter(
                    id=exchange.id, enabled=True, mode=ExchangeMode.STREAM
                ).exists()
            except DatabaseFailure:
                return True  # a database away is no reason to drop the socket
            finally:
                connections_drop()

        return await asyncio.to_thread(read)

    try:
        return await stream_hold(
            lock, streamer.run(), covering=lambda: streamer.covering, wanted=wanted
        )
    finally:
        await client.close()


def _on_ingest(event: events.RecordsIngested) -> None:
    """In the committing thread of a worker: enqueue the evaluation and a rank refresh."""
    alerts_evaluate_task.delay(
        event.exchange_id,
        event.since.isoformat(),
        event.until.isoformat(),
        list(event.metric_ids),
        event.count,
    )
    if cache.add("tracker:ranks-queued", 1, timeout=RANKS_COALESCE):
        ranks_refresh_task.apply_async(countdown=RANKS_COALESCE)


@worker_init.connect
def _follow_ingests(**_: Any) -> None:
    events.subscribe(_on_ingest)


@beat_init.connect
def _schedules_at_start(**_: Any) -> None:
    """The beat starts from schedules that match the tables (and the seeded exchanges)."""
    try:
        schedules_prepare()
    except DatabaseFailure as exc:
        logger.error("could not sync the schedules at start (%s)", database_error_text(exc))
    finally:
        connections_drop()
