"""The poll loop's state: when to poll next, how long to back off, what to tell the operator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.db.utils import Error as DatabaseFailure

from tracker.common.clock import Clock, utc_now
from tracker.common.database import connections_drop, database_describe, database_error_text
from tracker.common.observability import poll_count
from tracker.exchanges import ExchangeAdapter, ExchangeError, ExchangeUnreachable, UnknownSymbol
from tracker.markets.models import Exchange
from tracker.markets.services import exchange_health_record

from .backoff import Backoff
from .services import PollResult, exchange_poll, pairs_seed

logger = logging.getLogger(__name__)


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    return "database_error" if isinstance(exc, DatabaseFailure) else "exchange_error"


class Poller:
    """Polls one exchange on every tick, backing off while the exchange keeps failing.

    `tick` never raises for an exchange or a database problem: it logs the reason in one line
    and schedules the next attempt with the same backoff. Only a configuration error (a symbol
    the exchange does not list at seeding) is fatal; it is kept in `fatal` and `on_fatal` is
    set so the runner can stop. While `standby()` is true (a ticker stream delivers), ticks
    do nothing.
    """

    def __init__(
        self,
        *,
        client: ExchangeAdapter,
        symbols: Sequence[str],
        base_url: str,
        backoff: Backoff,
        clock: Clock = utc_now,
        optional: Sequence[str] = (),
        standby: Callable[[], bool] | None = None,
    ) -> None:
        self.client = client
        self.standby = standby
        self.symbols = list(symbols)
        self.optional = list(optional)
        self.base_url = base_url
        self.backoff = backoff
        self.clock = clock
        self.exchange: Exchange | None = None
        self.failures = 0
        self.failing = ""  # what the failures were: "exchange" or "database"
        self.said_unreachable = False
        self.retry_at: datetime | None = None
        self.fatal: UnknownSymbol | None = None
        self.on_fatal: asyncio.Event | None = None
        self._inflight: asyncio.Task[object] | None = None

    async def tick(self) -> PollResult | None:
        """One scheduled run: poll unless backing off. Returns what was stored, if anything."""
        now = self.clock()
        if self.fatal is not None or (self.retry_at is not None and now < self.retry_at):
            return None
        if self.standby is not None and self.standby() and self.exchange is not None:
            return None
        self._inflight = asyncio.current_task()
        try:
            return await self._poll()
        finally:
            self._inflight = None

    async def _poll(self) -> PollResult | None:
        try:
            if self.exchange is None:
                self.exchange, active = await pairs_seed(
                    client=self.client,
                    base_url=self.base_url,
                    symbols=self.symbols,
                    optional=self.optional,
                )
                logger.info("polling %d pairs on %s", len(active), self.client.name)
            result = await exchange_poll(
                client=self.client, exchange=self.exchange, now=self.clock()
            )
        except UnknownSymbol as exc:
            if self.exchange is None:
                self._give_up(exc)
            else:
                self._failed(exc)
            await self._health(exc)
            return None
        except ExchangeUnreachable as exc:
            if not self.said_unreachable:
                self.said_unreachable = True  # once per outage; each retry still logs a line
                logger.error(
                    "cannot reach %s at %s (no network access?). The tracker keeps trying; "
                    "`make demo` runs it offline against a local stand-in exchange.",
                    self.client.name,
                    self.client.url,
                )
            self._failed(exc)
            await self._health(exc)
            return None
        except ExchangeError as exc:
            self._failed(exc)
            await self._health(exc)
            return None
        except DatabaseFailure as exc:
            # The connection may be broken (a lost server, a failed transaction): drop it, so
            # the next attempt opens a fresh one and recovers on its own.
            await sync_to_async(connections_drop)()
            self._failed_storing(exc)
            await self._health(exc)
            return None
        if self.failures and self.failing == "database":
            logger.info("the database takes writes again after %d failed polls", self.failures)
        elif self.failures:
            logger.info("%s is back after %d failed polls", self.client.name, self.failures)
        self.failures = 0
        self.said_unreachable = False
        self.retry_at = None
        logger.debug("stored %d records from %s", result.stored, self.client.name)
        await self._health(None)
        return result

    async def _health(self, exc: BaseException | None) -> None:
        """Record the outcome on the exchange's row; a database that fails it is logged above."""
        poll_count(self.client.name, _outcome(exc))
        error = "" if exc is None else f"{type(exc).__name__}: {exc}"[:2000]
        try:
            await sync_to_async(exchange_health_record)(
                name=self.client.name, now=self.clock(), error=error
            )
        except DatabaseFailure:
            await sync_to_async(connections_drop)()

    def _back_off(self, failing: str) -> float:
        self.failures += 1
        self.failing = failing
        pause = self.backoff.delay(self.failures)
        self.retry_at = self.clock() + timedelta(seconds=pause)
        return pause

    def _failed(self, exc: ExchangeError) -> None:
        pause = self._back_off("exchange")
        logger.warning(
            "poll of %s failed (%s: %s); failure %d in a row, next attempt in %.1fs",
            self.client.name,
            type(exc).__name__,
            exc,
            self.failures,
            pause,
        )

    def _failed_storing(self, exc: DatabaseFailure) -> None:
        pause = self._back_off("database")
        logger.warning(
            "storing the poll of %s failed (%s: %s, in %s); failure %d in a row, "
            "next attempt in %.1fs",
            self.client.name,
            type(exc).__name__,
            database_error_text(exc),
            database_describe(),
            self.failures,
            pause,
        )

    def _give_up(self, exc: UnknownSymbol) -> None:
        logger.error("cannot seed pairs: %s. Fix TRACKER_PAIRS and start again.", exc)
        self.fatal = exc
        if self.on_fatal is not None:
            self.on_fatal.set()

    async def drain(self, *, grace: float) -> bool:
        """Wait for the tick in flight; cancel it after `grace` seconds. True if it finished."""
        task = self._inflight
        if task is None or task.done():
            return True
        done, _ = await asyncio.wait({task}, timeout=grace)
        if done:
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
