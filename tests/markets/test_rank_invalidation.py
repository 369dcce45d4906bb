"""Records stored into minutes a refresh has summed already (a backfill fills past minutes)
drop their metrics' sums, so the next refresh computes them from scratch; a purged pair's rank
rows go with its metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import metric_create
from tests.markets.rank_oracle import assert_same_ranks, ranks_from_scratch, ranks_stored
from tracker.markets.models import MetricRank
from tracker.markets.services import Sample, ranks_refresh, records_ingest

pytestmark = pytest.mark.django_db
NOW = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)


def _ticks(metrics, *, since: datetime, until: datetime, step: timedelta) -> None:
    moment, level = since, 100.0
    while moment <= until:
        level += 0.5 if moment.minute % 2 else -0.3
        samples = [Sample(m.id, moment, level * (i + 1)) for i, m in enumerate(metrics)]
        records_ingest(samples=samples, now=moment)
        moment += step


def test_a_past_minute_filled_later_is_counted_after_the_next_refresh():
    btc, eth = metric_create(), metric_create("ETH/USD")
    _ticks([btc, eth], since=NOW - timedelta(hours=2), until=NOW, step=timedelta(minutes=7))
    ranks_refresh(kinds=["price"], now=NOW)
    before = MetricRank.objects.get(metric=eth).count

    later = NOW + timedelta(seconds=20)
    backfilled = [
        Sample(eth.id, NOW - timedelta(hours=1, minutes=3, seconds=s), 9e3) for s in (0, 1)
    ]
    records_ingest(samples=backfilled, now=later)  # what a backfill's page does

    assert not MetricRank.objects.filter(metric=eth).exists()
    assert MetricRank.objects.filter(metric=btc).exists()  # untouched: kept incrementally
    (refresh,) = ranks_refresh(kinds=["price"], now=later)
    assert refresh.rebuilt == 1
    assert MetricRank.objects.get(metric=eth).count == before + 2
    assert_same_ranks(ranks_stored(kind="price"), ranks_from_scratch(kind="price", now=later))


def test_records_in_the_open_minutes_keep_the_sums():
    metric = metric_create()
    records_ingest(samples=[Sample(metric.id, NOW - timedelta(minutes=5), 1.0)], now=NOW)
    ranks_refresh(kinds=["price"], now=NOW)
    # Stamped in the minute before the current one: still open, read fresh at each refresh.
    records_ingest(samples=[Sample(metric.id, NOW - timedelta(seconds=45), 2.0)], now=NOW)
    assert MetricRank.objects.filter(metric=metric).exists()
    ranks_refresh(kinds=["price"], now=NOW)
    assert MetricRank.objects.get(metric=metric).count == 2


def test_a_purged_pair_takes_its_rank_rows_along():
    btc, eth = metric_create(), metric_create("ETH/USD")
    records_ingest(samples=[Sample(btc.id, NOW, 1.0), Sample(eth.id, NOW, 2.0)], now=NOW)
    ranks_refresh(kinds=["price", "volume"], now=NOW)
    assert MetricRank.objects.filter(metric__pair=btc.pair).count() == 2

    btc.pair.delete()

    assert not MetricRank.objects.filter(metric_id=btc.id).exists()
    assert MetricRank.objects.filter(metric=eth).exists()
