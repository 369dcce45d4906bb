"""What the database says, as Prometheus gauges, read at scrape time.

Each scrape reads the tracked values (each metric's latest record), their 24-hour standard
deviation and rank (the rank snapshot the rank refresh keeps), and each exchange's poll health,
in three queries whatever the number of metrics. Read rather than kept in gauges per tick, so
every process answers the same and nothing is stale after a restart. A database that cannot be
read gives `tracker_database_up 0` and none of these gauges, not a failed scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tracker.common.clock import utc_now
from tracker.markets.models import Exchange, ExchangeStatus, Metric
from tracker.markets.overview import WINDOW, metrics_latest

logger = logging.getLogger(__name__)

LABELS = ["exchange", "pair", "kind"]


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("tracker_database_up", "1 if this scrape could read the database.")
        try:
            families = _families(now=utc_now())
        except DatabaseError as exc:
            logger.warning("metrics: the database could not be read (%s)", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _families(*, now: datetime) -> list[GaugeMetricFamily]:
    value = GaugeMetricFamily(
        "tracker_metric_value", "The latest recorded value of each tracked metric.", labels=LABELS
    )
    stddev = GaugeMetricFamily(
        "tracker_metric_stddev_24h",
        "Population standard deviation of each metric over the last 24 hours.",
        labels=LABELS,
    )
    rank = GaugeMetricFamily(
        "tracker_metric_rank",
        "Rank of each metric's 24-hour standard deviation among its kind (1 is the largest).",
        labels=LABELS,
    )
    age = GaugeMetricFamily(
        "tracker_exchange_last_poll_age_seconds",
        "Seconds since the exchange's last good poll.",
        labels=["exchange"],
    )
    failures = GaugeMetricFamily(
        "tracker_exchange_consecutive_failures",
        "Failed polls in a row.",
        labels=["exchange"],
    )
    healthy = GaugeMetricFamily(
        "tracker_exchange_up",
        "1 if the exchange's last poll succeeded within three intervals, else 0.",
        labels=["exchange"],
    )
    interval = GaugeMetricFamily(
        "tracker_exchange_interval_seconds", "Seconds between two polls.", labels=["exchange"]
    )
    for site in Exchange.objects.filter(enabled=True):
        if site.last_success is not None:
            age.add_metric([site.name], max((now - site.last_success).total_seconds(), 0.0))
        failures.add_metric([site.name], site.consecutive_failures)
        healthy.add_metric([site.name], 1 if site.status_at(now) == ExchangeStatus.OK else 0)
        interval.add_metric([site.name], site.interval)

    catalog = list(
        Metric.objects.filter(pair__exchange__enabled=True).values_list(
            "id",
            "pair__exchange__name",
            "pair__symbol",
            "kind",
            "rank_snapshot__rank",
            "rank_snapshot__stddev",
        )
    )
    latest = metrics_latest(ids=[row[0] for row in catalog], since=now - WINDOW)
    for metric_id, exchange, symbol, kind, place, spread in catalog:
        labels = [exchange, symbol, kind]
        last = latest.get(metric_id, (None, None, None))[1]
        if last is not None:
            value.add_metric(labels, last)
        if spread is not None:
            stddev.add_metric(labels, spread)
        if place is not None:
            rank.add_metric(labels, place)
    return [value, stddev, rank, age, failures, healthy, interval]
