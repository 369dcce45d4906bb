"""Alerts in the tracker's process: rules evaluated after each ingest, deliveries sent beside.

`AlertWorker` subscribes to the "records ingested" event; the subscriber only queues the event
(it runs in the committing thread, and ingest never waits for alerts). The loop evaluates each
event in a worker thread (`alerts.evaluate.alerts_evaluate`), then sends what is due: every
`TRACKER_ALERT_POLL` seconds, and at once after an evaluation that fired or resolved something.

Sends run on a pool of `TRACKER_ALERT_SENDERS` threads, at most one per channel at a time: a
pass hands out only as many due deliveries as threads are free, each to a channel with nothing
in flight, and the thread claims its delivery just before sending it. A slow channel thus holds
one thread and its own deliveries, never the others', and a claim is never left waiting in a
queue until it looks abandoned. No database connection is held while a channel is waited for.

An event whose evaluation fails on a database error is tried again, up to three times, a
second later each time; any other failure is logged with its traceback and the loop goes on.
Events wait in a queue of at most `QUEUE_MAX`; beyond that the oldest are dropped, loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.utils import Error as DatabaseFailure

from tracker.alerts.delivery import (
    deliveries_due,
    delivery_claim,
    delivery_notify,
    delivery_prepare,
    delivery_record,
)
from tracker.alerts.evaluate import Outcome, alerts_evaluate
from tracker.common.clock import utc_now
from tracker.common.database import connections_drop, database_error_text
from tracker.common.observability import alert_evaluation_count
from tracker.markets import events

logger = logging.getLogger(__name__)


def _evaluate(event: events.RecordsIngested) -> Outcome:
    try:
        return alerts_evaluate(event=event, now=utc_now())
    finally:
        connections_drop()


def outcome_name(outcome: Outcome) -> str:
    """The label an evaluation is counted under: fired, resolved or quiet."""
    if outcome.fired:
        return "fired"
    return "resolved" if outcome.resolved else "quiet"


QUEUE_MAX = 10_000
EVALUATION_TRIES = 3


def _due(limit: int) -> list[tuple[int, int]]:
    try:
        return deliveries_due(now=utc_now(), limit=limit)
    finally:
        connections_drop()


def delivery_send(delivery_id: int) -> None:
    """Claim, send and record one delivery, holding a connection only around the writes.

    Also the body of the Celery task `tracker.deliveries_send_one`."""
    try:
        claimed_at = delivery_claim(delivery_id=delivery_id, now=utc_now())
        if claimed_at is None:
            return  # another sender has it
        prepared = delivery_prepare(delivery_id=delivery_id, claimed_at=claimed_at)
        connections_drop()
        sent = delivery_notify(prepared)
        delivery_record(prepared, sent, now=utc_now())
    except DatabaseFailure as exc:
        logger.warning("delivery %d not recorded: %s", delivery_id, database_error_text(exc))
    except Exception:
        logger.exception("delivery %d failed unexpectedly", delivery_id)
    finally:
        connections_drop()


class AlertWorker:
    """Evaluates alert rules after ingests and sends their deliveries; `start`, then `close`."""

    def __init__(self, *, poll: float | None = None, senders: int | None = None) -> None:
        self.poll = settings.TRACKER_ALERT_POLL if poll is None else poll
        self.senders = senders or settings.TRACKER_ALERT_SENDERS
        self._pool = ThreadPoolExecutor(max_workers=self.senders, thread_name_prefix="alert-send")
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-due")
        self._busy: set[int] = set()  # channels with a send in flight
        self._queue: asyncio.Queue[tuple[events.RecordsIngested, int]] = asyncio.Queue()
        self._send_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_ingest(self, event: events.RecordsIngested) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._enqueue, event, 1)

    def _enqueue(self, event: events.RecordsIngested, attempt: int) -> None:
        if self._queue.qsize() >= QUEUE_MAX:
            dropped, _ = self._queue.get_nowait()
            logger.error(
                "alert evaluation is %d ingests behind: the oldest (%d records) is dropped",
                QUEUE_MAX,
                dropped.count,
            )
        self._queue.put_nowait((event, attempt))

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        events.subscribe(self._on_ingest)
        self._tasks = [
            asyncio.create_task(self._evaluate_forever(), name="alerts: evaluate"),
            asyncio.create_task(self._send_forever(), name="alerts: send"),
        ]

    async def _evaluate_forever(self) -> None:
        while True:
            event, attempt = await self._queue.get()
            try:
                outcome = await sync_to_async(_evaluate, thread_sensitive=False)(event)
            except DatabaseFailure as exc:
                again = attempt < EVALUATION_TRIES
                logger.warning(
                    "alert rules not evaluated for an ingest (%s)%s",
                    database_error_text(exc),
                    "; trying again" if again else "; given up",
                )
                if again:
                    asyncio.get_running_loop().call_later(
                        attempt, self._enqueue, event, attempt + 1
                    )
                else:
                    alert_evaluation_count("failed")
                continue
            except Exception:  # the loop outlives any one event: later ones are still evaluated
                logger.exception(
                    "alert rules not evaluated for an ingest of %d records", event.count
                )
                alert_evaluation_count("failed")
                continue
            alert_evaluation_count(outcome_name(outcome))
            if outcome.fired or outcome.resolved:
                self._send_now.set()

    async def _send_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            free = self.senders - len(self._busy)
            due: list[tuple[int, int]] = []
            if free > 0:
                try:
                    due = await loop.run_in_executor(self._reads, _due, 100)
                except DatabaseFailure as exc:
                    logger.warning("deliveries not read: %s", database_error_text(exc))
                except Exception:  # the loop outlives any one pass: the next one tries again
                    logger.exception("deliveries not read")
            for delivery_id, channel_id in due:
                if free <= 0:
                    break
                if channel_id in self._busy:
                    continue
                self._busy.add(channel_id)
                free -= 1
                sending = loop.run_in_executor(self._pool, delivery_send, delivery_id)
                sending.add_done_callback(self._sent(channel_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._send_now.wait(), timeout=self.poll)
            self._send_now.clear()

    def _sent(self, channel_id: int) -> Callable[[object], None]:
        def done(_: object) -> None:
            self._busy.discard(channel_id)
            self._send_now.set()  # a thread is free: what is due may go

        return done

    async def close(self) -> None:
        events.unsubscribe(self._on_ingest)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Sends in flight finish (their transports time out); unsent ones stay due.
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._pool.shutdown)
        await loop.run_in_executor(None, self._reads.shutdown)
