"""One poll job per enabled exchange, and a stream beside it in `mode=stream`, following the
exchanges table while the process runs.

`ExchangeJobs.sync` reads the table (every TRACKER_EXCHANGE_SYNC seconds) and adds a job for an
exchange newly enabled, removes the job of one disabled or deleted, reschedules one whose
interval changed, and starts or stops its stream when its mode changes, so a change made through
the API or the admin needs no restart. Each job has its own adapter and Poller, so one
exchange's backoff never delays another. A streamed exchange keeps its poll job: it stands by
while the socket delivers and polls over REST while the socket is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from apscheduler.events import JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.utils import Error as DatabaseFailure

from tracker.common.clock import utc_now
from tracker.common.database import connections_drop, database_describe, database_error_text
from tracker.common.exchange_settings import ExchangeSeed
from tracker.exchanges import ExchangeClient, ExchangeError
from tracker.ingest.backoff import Backoff
from tracker.ingest.poller import Poller
from tracker.ingest.streamer import Streamer
from tracker.markets.models import Exchange, ExchangeMode
from tracker.markets.services import exchanges_seed

logger = logging.getLogger(__name__)

JOB_PREFIX = "poll:"


@dataclass(frozen=True)
class Wanted:
    """What the table says about one enabled exchange."""

    name: str
    interval: float
    base_url: str
    mode: str
    ws_url: str = ""


@dataclass
class _Job:
    wanted: Wanted
    client: ExchangeClient
    poller: Poller
    streamer: Streamer | None = None
    streaming: asyncio.Task[None] | None = None

    @property
    def covered(self) -> bool:
        """True while the stream delivers, so the poll can stand by."""
        return self.streamer is not None and self.streamer.covering


def _wanted_read() -> list[Wanted]:
    rows = Exchange.objects.filter(enabled=True).values_list(
        "name", "interval", "base_url", "mode", "ws_url"
    )
    return [Wanted(*row) for row in rows]


def _wanted_read_now() -> list[Wanted]:
    try:
        return _wanted_read()
    finally:
        connections_drop()


class ExchangeJobs:
    """The poll jobs of one process, one per enabled exchange."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        *,
        seeds: list[ExchangeSeed],
        on_fatal: asyncio.Event | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.seeds = {seed.name: seed for seed in seeds}
        self.on_fatal = on_fatal
        self.jobs: dict[str, _Job] = {}
        self._no_stream: set[str] = set()
        self._refused: set[str] = set()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def pollers(self) -> list[Poller]:
        return [job.poller for job in self.jobs.values()]

    async def sync(self) -> None:
        """Bring the jobs in line with the table. A database failure leaves them as they are."""
        try:
            wanted = {w.name: w for w in await sync_to_async(_wanted_read_now)()}
        except DatabaseFailure as exc:
            logger.warning(
                "could not read the exchanges (%s: %s, in %s); the jobs stay as they are",
                type(exc).__name__,
                database_error_text(exc),
                database_describe(),
            )
            return
        for name in list(self.jobs):
            job = self.jobs[name]
            now = wanted.get(name)
            if now is None or now.base_url != job.wanted.base_url:
                self._remove(name, why="disabled" if now is None else "its base URL changed")
            elif now.interval != job.wanted.interval:
                self._reschedule(name, now)
            else:
                job.wanted = now
        for name, now in wanted.items():
            if name not in self.jobs:
                self._add(now)
            if name in self.jobs:
                self._follow_mode(self.jobs[name])

    def _follow_mode(self, job: _Job) -> None:
        """Start, stop or restart the job's stream as its mode and socket URL say."""
        wanted = job.wanted
        running = job.streaming is not None and not job.streaming.done()
        if wanted.mode != ExchangeMode.STREAM:
            self._no_stream.discard(wanted.name)
            if running:
                self._stream_stop(job, why="mode=poll")
            return
        if running and job.streamer is not None and job.streamer.ws_url != wanted.ws_url:
            self._stream_stop(job, why="its socket URL changed")
            running = False
        if running:
            if job.streamer is not None:
                job.streamer.health_every = wanted.interval
            return
        if not job.client.has_stream:
            if wanted.name not in self._no_stream:  # once, not at every sync
                self._no_stream.add(wanted.name)
                logger.error(
                    "%s is set to mode=stream but has no ticker stream; it is polled every %gs",
                    wanted.name,
                    wanted.interval,
                )
            return
        job.streamer = Streamer(
            client=job.client,
            ws_url=wanted.ws_url,
            sample_interval=settings.TRACKER_SAMPLE_INTERVAL,
            silence=settings.TRACKER_STREAM_SILENCE,
            resync=settings.TRACKER_EXCHANGE_SYNC,
            health_every=wanted.interval,
        )
        job.streaming = asyncio.ensure_future(job.streamer.run())
        job.streaming.add_done_callback(_stream_ended(wanted.name))
        logger.info(
            "streaming %s, sampled every %gs; polled over REST every %gs while its socket is down",
            wanted.name,
            settings.TRACKER_SAMPLE_INTERVAL,
            wanted.interval,
        )

    def _stream_stop(self, job: _Job, *, why: str) -> None:
        if job.streaming is not None:
            job.streaming.cancel()
            self._closing.add(job.streaming)
            job.streaming.add_done_callback(self._closing.discard)
        job.streamer = None
        job.streaming = None
        logger.info("stopped streaming %s: %s", job.wanted.name, why)

    def _add(self, wanted: Wanted) -> None:
        try:
            client = ExchangeClient(
                wanted.name, base_url=wanted.base_url, timeout=settings.TRACKER_EXCHANGE_TIMEOUT
            )
        except ExchangeError as exc:
            if wanted.name not in self._refused:  # once, not at every sync
                self._refused.add(wanted.name)
                logger.error("cannot poll %s: %s", wanted.name, exc)
            return
        self._refused.discard(wanted.name)
        seed = self.seeds.get(wanted.name)
        poller = Poller(
            client=client,
            symbols=seed.required if seed else (),
            optional=seed.optional if seed else (),
            base_url=wanted.base_url,
            backoff=_backoff(wanted.interval),
        )
        poller.on_fatal = self.on_fatal
        job = _Job(wanted=wanted, client=client, poller=poller)
        poller.standby = lambda: job.covered
        start = utc_now()
        self.scheduler.add_job(
            poller.tick,
            # Anchored at the start: tick n is due at start + n * interval however long the
            # ticks before it took, so the schedule never drifts.
            IntervalTrigger(seconds=wanted.interval, start_date=start, timezone=UTC),
            id=JOB_PREFIX + wanted.name,
            name=f"poll {wanted.name}",
            next_run_time=start,
            max_instances=1,  # a slow exchange skips the next tick instead of stacking them
            coalesce=True,
            misfire_grace_time=None,
        )
        self.jobs[wanted.name] = job
        logger.info("polling %s every %gs", wanted.base_url or wanted.name, wanted.interval)

    def _reschedule(self, name: str, wanted: Wanted) -> None:
        job = self.jobs[name]
        job.wanted = wanted
        job.poller.backoff = _backoff(wanted.interval)
        start = utc_now()
        self.scheduler.reschedule_job(
            JOB_PREFIX + name,
            trigger=IntervalTrigger(seconds=wanted.interval, start_date=start, timezone=UTC),
        )
        logger.info("polling %s every %gs from now on", name, wanted.interval)

    def _remove(self, name: str, *, why: str) -> None:
        job = self.jobs.pop(name)
        self.scheduler.remove_job(JOB_PREFIX + name)
        if job.streaming is not None:
            self._stream_stop(job, why=why)
        logger.info("stopped polling %s: %s", name, why)
        task = asyncio.ensure_future(self._close(job))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, job: _Job) -> None:
        await job.poller.drain(grace=settings.TRACKER_SHUTDOWN_GRACE)
        await job.client.close()

    def interval_of(self, job_id: str) -> float | None:
        job = self.jobs.get(job_id.removeprefix(JOB_PREFIX))
        return job.wanted.interval if job else None

    async def close(self) -> None:
        for job in self.jobs.values():
            if job.streaming is not None:
                self._stream_stop(job, why="shutting down")
        await asyncio.gather(*self._closing, return_exceptions=True)
        for job in self.jobs.values():
            await job.client.close()


def _stream_ended(name: str) -> Callable[[asyncio.Task[None]], None]:
    """Say why a stream stopped on its own; the next sync starts it again."""

    def report(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error(
                "the %s stream stopped (%s: %s); starting it again",
                name,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )

    return report


def _backoff(interval: float) -> Backoff:
    return Backoff(base=interval, cap=max(interval, settings.TRACKER_BACKOFF_MAX))


def tick_skipped(jobs: ExchangeJobs) -> Callable[[JobSubmissionEvent], None]:
    def report(event: JobSubmissionEvent) -> None:
        interval = jobs.interval_of(event.job_id)
        if interval is None:
            return
        for due in event.scheduled_run_times:
            logger.warning(
                "skipped the poll of %s due at %s: the previous poll is still running "
                "(it took longer than its interval of %gs)",
                event.job_id.removeprefix(JOB_PREFIX),
                due.strftime("%H:%M:%S.%f")[:-3],
                interval,
            )

    return report


def exchanges_seed_now(*, seeds: list[ExchangeSeed], interval: float) -> None:
    try:
        exchanges_seed(
            seeds=[(seed.name, seed.base_url, seed.ws_url) for seed in seeds], interval=interval
        )
    finally:
        connections_drop()
