"""Writing records: idempotent per (metric, timestamp), atomic, nothing non-finite."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import metric_create
from tracker.markets.models import Metric, Record
from tracker.markets.services import Sample, records_ingest

NOW = datetime(2024, 3, 1, 12, 0, 0, 310744, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def test_a_repeated_write_is_a_no_op():
    metric = metric_create()
    records_ingest(samples=[Sample(metric.id, NOW, 100.0)])
    records_ingest(
        samples=[
            Sample(metric.id, NOW, 999.0),
            Sample(metric.id, NOW + timedelta(seconds=1), 101.0),
        ]
    )

    stored = list(Record.objects.filter(metric=metric).values_list("timestamp", "value"))

    assert stored == [(NOW, 100.0), (NOW + timedelta(seconds=1), 101.0)]


def test_timestamps_keep_microseconds_and_utc():
    metric = metric_create()
    records_ingest(samples=[Sample(metric.id, NOW, 42284.6)])
    assert Record.objects.get(metric=metric).timestamp == NOW


def test_non_finite_values_are_refused():
    metric = metric_create()
    written = records_ingest(
        samples=[
            Sample(metric.id, NOW, float("nan")),
            Sample(metric.id, NOW + timedelta(seconds=1), 1.0),
        ]
    )
    assert written == 1
    assert list(Record.objects.filter(metric=metric).values_list("value", flat=True)) == [1.0]


@pytest.mark.django_db(transaction=True)
def test_a_failing_batch_writes_nothing():
    metric = metric_create()
    with pytest.raises(Metric.DoesNotExist, match="no metric with id 1000000000"):
        records_ingest(samples=[Sample(metric.id, NOW, 1.0), Sample(10**9, NOW, 2.0)])
    assert not Record.objects.filter(metric=metric).exists()


def test_deleting_a_metric_deletes_its_records():
    metric = metric_create()
    records_ingest(samples=[Sample(metric.id, NOW, 1.0)])
    metric.delete()
    assert not Record.objects.exists()
