"""The tracker process: the embedded scheduler polling exchanges, optionally with the API server.

One asyncio loop runs APScheduler's jobs (one poll job per enabled exchange, see `jobs.py`, and
the daily housekeeping), the rank refreshes and alert evaluations that follow ingests
(`ranks.py`, `alerts.py`) and, for `runtracker`, uvicorn serving the ASGI application.
SIGINT/SIGTERM stop taking new ticks, let the tick in flight finish (or roll it back after a
grace period) and shut the server down; a second signal skips the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import signal
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

import uvicorn
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db.utils import Error as DatabaseFailure

from tracker.common.clock import utc_now
from tracker.common.database import connections_drop, database_describe, database_error_text
from tracker.ingest.poller import Poller
from tracker.live.relay import streams_close

from .alerts import AlertWorker
from .housekeeping import housekeeping_run
from .jobs import ExchangeJobs, exchanges_seed_now, tick_skipped
from .ranks import RankRefresher

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


def scheduler_start(*, housekeeping_delay: float) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        _housekeeping,
        IntervalTrigger(days=1, timezone=UTC),
        id="housekeeping",
        name="daily housekeeping",
        next_run_time=utc_now() + timedelta(seconds=housekeeping_delay),
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


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
    """Run until a signal (exit code 0) or a configuration error (exit code 1).

    The tracker's own database work (ticks, samples) runs on a thread of this context, apart
    from the thread that runs the server's requests (tracker.common.asgi), so an answer never
    waits for a tick being written.
    """
    async with ThreadSensitiveContext():
        return await _tracker_run(serve=serve)


async def _tracker_run(*, serve: ServeOptions | None) -> int:
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

    try:
        await sync_to_async(exchanges_seed_now, thread_sensitive=False)(
            seeds=settings.TRACKER_EXCHANGE_SEEDS, interval=settings.TRACKER_FETCH_INTERVAL
        )
    except DatabaseFailure as exc:
        # The exchanges not stored yet are seeded on a later start; the stored ones still run.
        logger.error(
            "could not seed the exchanges (%s: %s, in %s)",
            type(exc).__name__,
            database_error_text(exc),
            database_describe(),
        )
    ranks = RankRefresher()
    ranks.start()
    alerts = AlertWorker()
    alerts.start()
    scheduler = scheduler_start(housekeeping_delay=settings.TRACKER_HOUSEKEEPING_DELAY)
    jobs = ExchangeJobs(scheduler, seeds=settings.TRACKER_EXCHANGE_SEEDS, on_fatal=stop)
    scheduler.add_listener(tick_skipped(jobs), EVENT_JOB_MAX_INSTANCES)
    await jobs.sync()
    scheduler.add_job(
        jobs.sync,
        IntervalTrigger(seconds=settings.TRACKER_EXCHANGE_SYNC, timezone=UTC),
        id="exchanges",
        name="follow the exchanges table",
        max_instances=1,
        coalesce=True,
    )
    if serve:
        logger.info(
            "serving the dashboard at http://%s:%d/ and the API at /api/v1/", serve.host, serve.port
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
        # A context of its own: requests must not inherit the tracker's thread (above).
        server_task = asyncio.create_task(server.serve(), context=contextvars.Context())
        waiters.add(server_task)
    try:
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        scheduler.pause()  # no new ticks; shutting the executor down now would cancel the tick
        if not await _drain(jobs.pollers, hurry=hurry):
            logger.warning(
                "the tick in flight was cancelled; a tick is one transaction, so it is stored "
                "whole or not at all"
            )
        scheduler.shutdown(wait=False)
        if server is not None and server_task is not None:
            streams_close()  # endless answers: the server would wait for them
            server.should_exit = True
            await server_task
        await jobs.close()
        await ranks.close()
        await alerts.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    for waiter in pending:
        waiter.cancel()
    if any(poller.fatal is not None for poller in jobs.pollers):
        return 1
    if server_task is not None and server is not None and not server.started:
        return 1  # uvicorn could not bind; it logged why
    return 0


async def _drain_all(pollers: list[Poller], *, grace: float) -> bool:
    done = await asyncio.gather(*(poller.drain(grace=grace) for poller in pollers))
    return all(done)


async def _drain(pollers: list[Poller], *, hurry: asyncio.Event) -> bool:
    """Give the ticks in flight the grace period, or less if told to hurry. True if they
    finished."""
    drained = asyncio.ensure_future(_drain_all(pollers, grace=settings.TRACKER_SHUTDOWN_GRACE))
    hurried = asyncio.ensure_future(hurry.wait())
    await asyncio.wait({drained, hurried}, return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    if drained.done():
        return drained.result()
    drained.cancel()
    return await _drain_all(pollers, grace=0)
