"""Writes to the market store. Keyword-only functions named `<noun>_<verb>`."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from .models import Exchange, Metric, MetricKind, Pair, Record

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sample:
    """A value to store for one metric at one moment."""

    metric_id: int
    timestamp: datetime
    value: float


def exchange_get_or_create(*, name: str, base_url: str = "") -> Exchange:
    exchange, created = Exchange.objects.get_or_create(name=name, defaults={"base_url": base_url})
    if not created and exchange.base_url != base_url:
        exchange.base_url = base_url
        exchange.save(update_fields=["base_url"])
    return exchange


@transaction.atomic
def pairs_create(*, exchange: Exchange, symbols: Sequence[str]) -> list[Pair]:
    """Create the pairs (and one metric per kind) that do not exist yet; return all of them."""
    pairs = []
    for symbol in symbols:
        pair, _ = Pair.objects.get_or_create(exchange=exchange, symbol=symbol)
        for kind in MetricKind.values:
            Metric.objects.get_or_create(pair=pair, kind=kind)
        pairs.append(pair)
    return pairs


def _insert_sql() -> str:
    table = connection.ops.quote_name(Record._meta.db_table)
    return (
        f"INSERT INTO {table} (metric_id, timestamp, value) VALUES (%s, %s, %s) "  # noqa: S608
        "ON CONFLICT (metric_id, timestamp) DO NOTHING"
    )


def records_ingest(*, samples: Iterable[Sample]) -> int:
    """Store samples in one transaction; a sample already stored is left as it was.

    Returns how many rows were offered to the database. Non-finite values are refused here
    too, so no caller can write NaN into a series.
    """
    rows = []
    adapt = connection.ops.adapt_datetimefield_value
    adapted: dict[datetime, Any] = {}  # a tick's samples share one timestamp
    for sample in samples:
        if not math.isfinite(sample.value):
            logger.warning("refused non-finite value for metric %s", sample.metric_id)
            continue
        stamp = adapted.get(sample.timestamp)
        if stamp is None:
            stamp = adapted[sample.timestamp] = adapt(sample.timestamp)
        rows.append((sample.metric_id, stamp, sample.value))
    if not rows:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(_insert_sql(), rows)
    return len(rows)


def pair_set_active(*, pair: Pair, active: bool) -> Pair:
    """Pause (False) or resume (True) polling of a pair; its records are kept either way."""
    if pair.active != active:
        pair.active = active
        pair.save(update_fields=["active"])
        logger.info("%s polling of %s", "resumed" if active else "paused", pair)
    return pair
