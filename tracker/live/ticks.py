"""The live stream's hub: this process's recent ticks, numbered, for live clients and resumes.

Ticks come in from one thread (the ingest that committed them, or the Redis listener of
`relay.py`) and go out to any number of clients on the event loop (`tracker.api.stream`). The
hub keeps the last few minutes in a ring bounded in age, in entries and in records; each
client keeps only its position in that ring. A publish costs O(1) plus one wake-up per loop
with waiters: every client waiting on a loop shares one future, resolved by the next publish.
A client that reads slower than ticks arrive does not hold anything back: once the ring has
moved past its position it is told to start over (`reset`) and carries on live.

Each entry has an id "<epoch>-<seq>", which clients send back as `Last-Event-ID`. In process
the epoch is the process's start and the seq counts its ticks; through Redis both come from a
counter shared by every publisher (`relay.py`), so an id means the same tick in every server
process. An id the ring no longer holds, or one of another epoch, cannot be resumed from.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

import orjson

from tracker.markets.events import RecordsIngested

Kind = Literal["records", "reset", "mark"]
RECORDS: Final = "records"
RESET: Final = "reset"
MARK: Final = "mark"  # a position only (where a feed started): nothing to send but its id


@dataclass(slots=True)
class Entry:
    """One tick (`records`), a break in the feed (`reset`), or a bare position (`mark`)."""

    serial: int  # this process's own count, contiguous: a position in the ring
    id: str  # "<epoch>-<seq>", what clients see
    kind: Kind
    at: float  # monotonic seconds when published, for the ring's age limit
    # (metric id, the record as a JSON object) of each record, for filtered clients.
    records: tuple[tuple[int, bytes], ...] = ()
    data: bytes = b""  # the event's data for unfiltered clients: all records, or the reason
    metric_ids: frozenset[int] = field(default_factory=frozenset)


def record_json(metric_id: int, moment: datetime, value: float) -> bytes:
    """One record as the stream sends it, timestamps in ISO 8601 UTC with Z as the API does."""
    timestamp = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return orjson.dumps({"metric": metric_id, "timestamp": timestamp, "value": value})


def epoch_new(*, now: Callable[[], float] = time.time) -> str:
    """An epoch for a counter starting now: milliseconds since 1970, unique enough per start."""
    return str(int(now() * 1000))


class Hub:
    """The ring of recent entries and the clients' wake-ups. Thread-safe."""

    def __init__(
        self,
        *,
        epoch: str,
        seq: int = 0,
        keep_seconds: float = 300.0,
        keep_entries: int = 10_000,
        keep_records: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_seconds = keep_seconds
        self.keep_entries = max(1, keep_entries)
        self.keep_records = keep_records
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._serials: dict[str, int] = {}
        self._records_kept = 0
        self._serial = 0
        self._epoch = epoch
        self._seq = seq
        self._futures: dict[asyncio.AbstractEventLoop, asyncio.Future[None]] = {}
        self.closed = False
        self._append(MARK, f"{epoch}-{seq}")

    # --- publishing (any thread) ---------------------------------------------------------------

    def publish(
        self,
        *,
        records: Iterable[tuple[int, datetime, float]],
        id: str | None = None,
    ) -> Entry:
        """A tick. Without `id` the hub numbers it itself (in process); the relay passes the
        id the shared counter gave it."""
        pairs = tuple((m, record_json(m, t, v)) for m, t, v in records)
        data = b"[" + b",".join(fragment for _, fragment in pairs) + b"]"
        return self._append(RECORDS, id, records=pairs, data=data)

    def reset(self, *, reason: str, epoch: str, seq: int) -> Entry:
        """Clients must start over: ticks up to `seq` of `epoch` may have been missed."""
        return self._append(RESET, f"{epoch}-{seq}", data=orjson.dumps({"reason": reason}))

    def mark(self, *, epoch: str, seq: int) -> Entry:
        """From here on ids are of `epoch`, after `seq`, and nothing was missed."""
        return self._append(MARK, f"{epoch}-{seq}")

    def _append(
        self,
        kind: Kind,
        id: str | None,
        *,
        records: tuple[tuple[int, bytes], ...] = (),
        data: bytes = b"",
    ) -> Entry:
        now = self._clock()
        with self._lock:
            if id is None:
                self._seq += 1
                id = f"{self._epoch}-{self._seq}"
            else:
                self._epoch, _, seq = id.rpartition("-")
                self._seq = int(seq)
            self._serial += 1
            entry = Entry(
                serial=self._serial,
                id=id,
                kind=kind,
                at=now,
                records=records,
                data=data,
                metric_ids=frozenset(m for m, _ in records),
            )
            self._entries.append(entry)
            self._serials[id] = entry.serial
            self._records_kept += len(records)
            self._evict(now)
            waiting, self._futures = self._futures, {}
        self._wake(waiting)
        return entry

    def close(self) -> None:
        """The server is stopping: every stream ends (clients reconnect elsewhere), so that
        the server need not wait for them."""
        with self._lock:
            self.closed = True
            waiting, self._futures = self._futures, {}
        self._wake(waiting)

    def _wake(self, waiting: dict[asyncio.AbstractEventLoop, asyncio.Future[None]]) -> None:
        for loop, future in waiting.items():
            # A closed loop has nobody waiting on it any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    def _evict(self, now: float) -> None:
        """Drop the oldest entries beyond the limits; the newest one always stays."""
        entries = self._entries
        while len(entries) > 1 and (
            len(entries) > self.keep_entries
            or self._records_kept > self.keep_records
            or now - entries[0].at > self.keep_seconds
        ):
            old = entries.popleft()
            self._records_kept -= len(old.records)
            if self._serials.get(old.id) == old.serial:
                del self._serials[old.id]

    # --- reading (the event loop) --------------------------------------------------------------

    @property
    def newest(self) -> Entry:
        with self._lock:
            return self._entries[-1]

    def position(self, last_event_id: str) -> int | None:
        """The serial of the entry with this id, if the ring (still) holds it."""
        with self._lock:
            return self._serials.get(last_event_id)

    def read(self, *, after: int, limit: int = 64) -> list[Entry] | None:
        """Up to `limit` entries after serial `after`, oldest first; None when some of those
        already left the ring (the reader fell behind)."""
        with self._lock:
            entries = self._entries
            start = after + 1 - entries[0].serial
            if start < 0:
                return None
            end = min(len(entries), start + limit)
            return [entries[i] for i in range(start, end)]

    def sizes(self) -> tuple[int, int]:
        """(entries, records) held in the ring."""
        with self._lock:
            return len(self._entries), self._records_kept

    async def wait(self, *, after: int, seconds: float) -> bool:
        """Wait up to `seconds` for an entry after serial `after`; whether one came."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._entries[-1].serial > after or self.closed:
                return True
            future = self._futures.get(loop)
            if future is None:
                future = self._futures[loop] = loop.create_future()
        # Not wait_for: cancelling one client (a disconnect) must not cancel the shared future.
        await asyncio.wait((future,), timeout=seconds)
        return future.done()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_hub: Hub | None = None
_hub_lock = threading.Lock()


def hub_get() -> Hub:
    """This process's hub, made on first use with the limits from the settings."""
    global _hub
    with _hub_lock:
        if _hub is None:
            from django.conf import settings

            _hub = Hub(
                epoch=epoch_new(),
                keep_seconds=settings.TRACKER_STREAM_REPLAY,
                keep_records=settings.TRACKER_STREAM_BUFFER,
            )
        return _hub


def hub_forget() -> None:
    """Drop this process's hub (tests: each starts with an empty one)."""
    global _hub
    with _hub_lock:
        _hub = None


def ticks_forward(event: RecordsIngested) -> None:
    """A subscriber of the ingest event: a tick's records into this process's hub.

    A large backfill carries no records (they stay in the database) and is not streamed.
    """
    if event.records:
        hub_get().publish(records=event.records)
