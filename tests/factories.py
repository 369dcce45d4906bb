"""Model factories: the smallest calls that put a metric and its records in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tracker.markets import services
from tracker.markets.models import Metric, MetricKind


def metric_create(
    symbol: str = "BTC/USD", kind: str = MetricKind.PRICE, exchange: str = "kraken"
) -> Metric:
    ex = services.exchange_get_or_create(name=exchange)
    (pair,) = services.pairs_create(exchange=ex, symbols=[symbol])
    return Metric.objects.get(pair=pair, kind=kind)


def records_add(
    metric: Metric,
    values: Sequence[float],
    *,
    end: datetime,
    step: timedelta = timedelta(minutes=1),
) -> None:
    """Store `values` at regular steps, the last one at `end`."""
    start = end - step * (len(values) - 1)
    services.records_ingest(
        samples=[
            services.Sample(metric_id=metric.id, timestamp=start + step * i, value=value)
            for i, value in enumerate(values)
        ]
    )
