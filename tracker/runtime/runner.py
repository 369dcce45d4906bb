"""The tracker process: the embedded scheduler polling exchanges, optionally with the API server.

One asyncio loop runs APScheduler's poll job and, for `runtracker`, uvicorn serving the ASGI
application. SIGINT/SIGTERM stop taking new ticks, let the tick in flight finish (or roll it
back after a grace period) and shut the server down; a second signal skips the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

import uvicorn
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.utils import Error as DatabaseFailure

from tracker.common.clock import utc_now
from tracker.common.database import connections_drop, database_describe, database_error_text
from tracker.exchanges import ExchangeClient
from tracker.ingest.backoff import Backoff
from tracker.ingest.poller import Poller

from .housekeeping import housekeeping_run

logger = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns the process's signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int


def poller_from_settings(client: ExchangeClient) -> Poller:
    interval = settings.TRACKER_FETCH_INTERVAL
    return Poller(
        client=client,
        symbols=settings.TRACKER_PAIRS,
        base_url=settings.TRACKER_EXCHANGE_URL,
        backoff=Backoff(base=interval, cap=max(interval, settings.TRACKER_BACKOFF_MAX)),
    )


def scheduler_start(
    poller: Poller, *, interval: float, housekeeping_delay: float
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    start = utc_now()
    scheduler.add_job(
        poller.tick,
        # Anchored at the start: tick n is due at start + n * interval however long the
        # ticks before it took, so the schedule never drifts.
        IntervalTrigger(seconds=interval, start_date=start, timezone=UTC),
        id="poll",
        name=f"poll {poller.client.name}",
        next_run_time=start,
        max_instances=1,  # a slow exchange skips the next tick instead of stacking them
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.add_listener(_tick_skipped(interval), EVENT_JOB_MAX_INSTANCES)
    scheduler.add_job(
        _housekeeping,
        IntervalTrigger(days=1, timezone=UTC),
        id="housekeeping",
        name="daily housekeeping",
        next_run_time=start + timedelta(seconds=housekeeping_delay),
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


def _tick_skipped(interval: float) -> Callable[[JobSubmissionEvent], None]:
    def report(event: JobSubmissionEvent) -> None:
        if event.job_id != "poll":
            return
        for due in event.scheduled_run_times:
            logger.warning(
                "skipped the poll due at %s: the previous poll is still running "
                "(it took longer than TRACKER_FETCH_INTERVAL=%gs)",
                due.strftime("%H:%M:%S.%f")[:-3],
                interval,
            )

    return report


async def _housekeeping() -> None:
    try:
        # Its own thread: the prune's batches interleave with ticks instead of delaying them.
        await sync_to_async(_housekeeping_now, thread_sensitive=False)()
    except DatabaseFailure as exc:
        logger.error(
            "housekeeping failed (%s: %s, in %s); it runs again tomorrow",
            type(exc).__name__,
            database_error_text(exc),
            database_describe(),
        )


def _housekeeping_now() -> None:
    try:
        housekeeping_run(now=utc_now())
    finally:
        connections_drop()  # a pool thread: no connection kept open until tomorrow


async def tracker_run(*, serve: ServeOptions | None = None) -> int:
    """Run until a signal (exit code 0) or a configuration error (exit code 1)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()
    server: _EmbeddedServer | None = None

    def on_signal(signum: int) -> None:
        if stop.is_set():
            logger.warning("second %s: stopping without waiting", signal.Signals(signum).name)
            hurry.set()
            if server is not None:
                server.force_exit = True
            return
        logger.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)

    client = ExchangeClient(
        settings.TRACKER_EXCHANGE,
        base_url=settings.TRACKER_EXCHANGE_URL,
        timeout=settings.TRACKER_EXCHANGE_TIMEOUT,
    )
    poller = poller_from_settings(client)
    poller.on_fatal = stop
    interval = settings.TRACKER_FETCH_INTERVAL
    scheduler = scheduler_start(
        poller, interval=interval, housekeeping_delay=settings.TRACKER_HOUSEKEEPING_DELAY
    )
    logger.info(
        "polling %s every %gs%s",
        settings.TRACKER_EXCHANGE_URL or client.name,
        interval,
        f", serving http://{serve.host}:{serve.port}/api/v1/" if serve else "",
    )

    waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
    server_task: asyncio.Task[None] | None = None
    if serve is not None:
        config = uvicorn.Config(
            "config.asgi:application",
            host=serve.host,
            port=serve.port,
            lifespan="off",
            log_config=None,
            # Forwarded headers are Django's to trust or not (TRACKER_NUM_PROXIES,
            # DJANGO_BEHIND_TLS_PROXY); uvicorn would believe any local client.
            proxy_headers=False,
        )
        server = _EmbeddedServer(config)
        server_task = asyncio.create_task(server.serve())
        waiters.add(server_task)
    try:
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        scheduler.pause()  # no new ticks; shutting the executor down now would cancel the tick
        if not await _drain(poller, hurry=hurry):
            logger.warning(
                "the tick in flight was cancelled; a tick is one transaction, so it is stored "
                "whole or not at all"
            )
        scheduler.shutdown(wait=False)
        if server is not None and server_task is not None:
            server.should_exit = True
            await server_task
        await client.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    for waiter in pending:
        waiter.cancel()
    if poller.fatal is not None:
        return 1
    if server_task is not None and server is not None and not server.started:
        return 1  # uvicorn could not bind; it logged why
    return 0


async def _drain(poller: Poller, *, hurry: asyncio.Event) -> bool:
    """Give the tick in flight the grace period, or less if told to hurry. True if it finished."""
    drained = asyncio.ensure_future(poller.drain(grace=settings.TRACKER_SHUTDOWN_GRACE))
    hurried = asyncio.ensure_future(hurry.wait())
    await asyncio.wait({drained, hurried}, return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    if drained.done():
        return drained.result()
    drained.cancel()
    return await poller.drain(grace=0)
