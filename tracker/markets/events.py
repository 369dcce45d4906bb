"""The "records ingested" event: what one committed ingest changed, told to whoever listens.

`records_ingest` sends one `RecordsIngested` per exchange after its transaction commits, and
only when it stored something: a rolled-back ingest and a repeated write send nothing. Alerts
evaluate the new records of the metrics they watch, the live stream (tracker.live) forwards
them (in process, or through Redis pub/sub: `as_json` and `from_json`), Prometheus counts them.

Subscribers are plain callables, called one after the other in the thread that committed the
ingest, so they must be quick: slow work belongs on a queue or in a task. A subscriber that
raises is logged and skipped; the ingest and the other subscribers carry on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

RECORDS_CARRIED = 10_000  # a tick of 2,000 pairs; a backfill's records stay in the database


@dataclass(frozen=True, slots=True)
class RecordsIngested:
    """New records of some metrics of one exchange, committed.

    `since` and `until` are the earliest and the latest timestamp stored, both included: the
    new records are those of `metric_ids` in [since, until] (a poll stores one moment, so the
    two are equal). Older records in that range may exist too, written before. `count` is how
    many records were stored. `records` are the stored records themselves, (metric id, time,
    value), when the ingest was a tick's size (up to `RECORDS_CARRIED`) and every record it
    offered for these metrics was new; otherwise empty, and a subscriber that needs the values
    reads them from the database.
    """

    exchange_id: int
    metric_ids: tuple[int, ...]
    since: datetime
    until: datetime
    count: int
    records: tuple[tuple[int, datetime, float], ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The event as JSON types, for a message bus; `from_json` reads it back."""
        return {
            "exchange_id": self.exchange_id,
            "metric_ids": list(self.metric_ids),
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "count": self.count,
            "records": [[m, t.isoformat(), v] for m, t, v in self.records],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordsIngested:
        return cls(
            exchange_id=int(data["exchange_id"]),
            metric_ids=tuple(int(m) for m in data["metric_ids"]),
            since=datetime.fromisoformat(data["since"]),
            until=datetime.fromisoformat(data["until"]),
            count=int(data["count"]),
            records=tuple(
                (int(m), datetime.fromisoformat(t), float(v)) for m, t, v in data.get("records", ())
            ),
        )


Subscriber = Callable[[RecordsIngested], object]

_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Call `subscriber` with every event from now on; usable as a decorator. Idempotent."""
    with _lock:
        if subscriber not in _subscribers:
            _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    """Stop calling `subscriber`; unknown subscribers are ignored."""
    with _lock:
        if subscriber in _subscribers:
            _subscribers.remove(subscriber)


@contextmanager
def subscribed(subscriber: Subscriber) -> Iterator[Subscriber]:
    """`subscriber` receives the events sent while the block runs."""
    subscribe(subscriber)
    try:
        yield subscriber
    finally:
        unsubscribe(subscriber)


def records_ingested_send(event: RecordsIngested) -> None:
    """Hand `event` to every subscriber; one that raises is logged and does not stop the rest."""
    with _lock:
        receivers = list(_subscribers)
    for receiver in receivers:
        try:
            receiver(event)
        except Exception:
            logger.exception(
                "a subscriber of records ingested failed (%s, exchange %d, %d metrics)",
                getattr(receiver, "__qualname__", repr(receiver)),
                event.exchange_id,
                len(event.metric_ids),
            )
