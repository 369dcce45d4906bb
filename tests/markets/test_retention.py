"""Retention: raw records go first, rollups later, in small transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import metric_create, records_add
from tracker.markets.models import MinuteRollup, Record
from tracker.markets.retention import history_prune
from tracker.runtime.housekeeping import housekeeping_run

NOW = datetime(2024, 6, 1, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def test_old_records_go_and_their_rollups_stay(settings):
    settings.TRACKER_RAW_RETENTION = timedelta(days=30)
    settings.TRACKER_ROLLUP_RETENTION = timedelta(days=365)
    metric = metric_create()
    records_add(metric, [1.0, 2.0], end=NOW - timedelta(days=40), step=timedelta(minutes=1))
    records_add(metric, [3.0, 4.0], end=NOW - timedelta(days=400), step=timedelta(minutes=1))
    records_add(metric, [5.0], end=NOW - timedelta(days=1))

    result = housekeeping_run(now=NOW)

    assert (result.records, result.rollups) == (4, 2)
    assert list(Record.objects.values_list("value", flat=True)) == [5.0]
    assert MinuteRollup.objects.count() == 3  # 40 days old: still answers bucketed queries


def test_the_prune_works_in_batches(django_assert_max_num_queries):
    metric = metric_create()
    other = metric_create("ETH/USD")
    records_add(metric, [float(i) for i in range(7)], end=NOW - timedelta(days=40))
    records_add(other, [1.0], end=NOW - timedelta(days=40))

    with CaptureQueriesContext(connection) as queries:
        result = history_prune(
            raw_before=NOW, rollups_before=NOW - timedelta(days=365), batch_size=3
        )

    deletes = [q for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert result.records == 8
    assert len(deletes) == 4  # 3 + 3 + 1 for one metric, 1 for the other
    assert not Record.objects.exists()


def test_bucketed_history_outlives_the_raw_records(api, settings):
    settings.TRACKER_RAW_RETENTION = timedelta(days=30)
    metric = metric_create()
    old = NOW - timedelta(days=60, hours=12)  # mid-day: both records in one daily bucket
    records_add(metric, [10.0, 20.0], end=old, step=timedelta(seconds=10))
    housekeeping_run(now=NOW)

    since = (old - timedelta(hours=1)).isoformat()
    raw = api.get(
        f"/api/v1/metrics/{metric.id}/records", {"since": since, "until": NOW.isoformat()}
    )
    daily = api.get(
        f"/api/v1/metrics/{metric.id}/buckets",
        {"since": since, "until": NOW.isoformat(), "interval": "1d"},
    )
    assert raw.json() == []
    assert [(b["count"], b["average"]) for b in daily.json()] == [(2, 15.0)]
