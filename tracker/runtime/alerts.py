"""Alerts in the tracker's process: rules evaluated after each ingest, deliveries sent beside.

`AlertWorker` subscribes to the "records ingested" event; the subscriber only queues the event
(it runs in the committing thread, and ingest never waits for alerts). The loop evaluates each
event in a worker thread (`alerts.evaluate.alerts_evaluate`), then sends what is due: every
`TRACKER_ALERT_POLL` seconds, and at once after an evaluation that fired or resolved something.
Each delivery is claimed, then sent on a thread of a pool of `TRACKER_ALERT_SENDERS`, so a slow
channel holds up only its own thread. A database error is one WARNING line; the next pass
tries again, and an unsent delivery stays due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.utils import Error as DatabaseFailure

from tracker.alerts.delivery import deliveries_due, delivery_claim, delivery_send
from tracker.alerts.evaluate import Outcome, alerts_evaluate
from tracker.common.clock import utc_now
from tracker.common.database import connections_drop, database_error_text
from tracker.markets import events

logger = logging.getLogger(__name__)


def _evaluate(event: events.RecordsIngested) -> Outcome:
    try:
        return alerts_evaluate(event=event, now=utc_now())
    finally:
        connections_drop()


def _claim_due() -> list[tuple[int, datetime]]:
    try:
        now = utc_now()
        claimed = []
        for delivery_id in deliveries_due(now=now):
            at = delivery_claim(delivery_id=delivery_id, now=now)
            if at is not None:
                claimed.append((delivery_id, at))
        return claimed
    finally:
        connections_drop()


def _send(delivery_id: int, claimed_at: datetime) -> None:
    try:
        delivery_send(delivery_id=delivery_id, claimed_at=claimed_at, now=utc_now())
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
        self._pool = ThreadPoolExecutor(
            max_workers=senders or settings.TRACKER_ALERT_SENDERS, thread_name_prefix="alert-send"
        )
        self._queue: asyncio.Queue[events.RecordsIngested] = asyncio.Queue()
        self._send_now = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _on_ingest(self, event: events.RecordsIngested) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        events.subscribe(self._on_ingest)
        self._tasks = [
            asyncio.create_task(self._evaluate_forever(), name="alerts: evaluate"),
            asyncio.create_task(self._send_forever(), name="alerts: send"),
        ]

    async def _evaluate_forever(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                outcome = await sync_to_async(_evaluate, thread_sensitive=False)(event)
            except DatabaseFailure as exc:
                logger.warning("alert rules not evaluated: %s", database_error_text(exc))
                continue
            except Exception:  # the loop outlives any one event: later ones are still evaluated
                logger.exception(
                    "alert rules not evaluated for an ingest of %d records", event.count
                )
                continue
            if outcome.fired or outcome.resolved:
                self._send_now.set()

    async def _send_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                claimed = await loop.run_in_executor(self._pool, _claim_due)
            except DatabaseFailure as exc:
                logger.warning("deliveries not read: %s", database_error_text(exc))
                claimed = []
            except Exception:  # the loop outlives any one pass: the next one tries again
                logger.exception("deliveries not read")
                claimed = []
            for delivery_id, at in claimed:
                loop.run_in_executor(self._pool, _send, delivery_id, at)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._send_now.wait(), timeout=self.poll)
            self._send_now.clear()

    async def close(self) -> None:
        events.unsubscribe(self._on_ingest)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Sends in flight finish (their transports time out); unsent ones stay due.
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown)
