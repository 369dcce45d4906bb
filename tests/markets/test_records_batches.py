"""Batches through the write path as a whole: rows already stored and repeats within one batch,
two ingests in one transaction, an ingest after a rolled-back one. On PostgreSQL these go
through the staging table the COPY fills, kept by the session from one ingest to the next."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from tests.factories import metric_create
from tracker.markets.events import RecordsIngested, subscribed
from tracker.markets.models import Metric, MinuteRollup, Record
from tracker.markets.services import Sample, records_ingest

T0 = datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
S = timedelta(seconds=1)


def stored(metric: Metric) -> list[tuple[datetime, float]]:
    return list(Record.objects.filter(metric=metric).values_list("timestamp", "value"))


def rollup(metric: Metric) -> tuple[int, float, float, float, float, float]:
    r = MinuteRollup.objects.get(metric=metric)
    assert metric.reference is not None
    return (r.count, metric.reference + r.offset_mean, r.low, r.high, r.first, r.last)


@pytest.mark.django_db
def test_stored_rows_and_repeats_in_one_batch_are_stored_and_counted_once():
    metric, other = metric_create(), metric_create(kind="volume")
    assert (
        records_ingest(samples=[Sample(metric.id, T0, 10.0), Sample(metric.id, T0 + S, 11.0)]) == 2
    )

    batch = [
        Sample(metric.id, T0 + S, 99.0),  # stored already
        Sample(metric.id, T0 + 2 * S, 12.0),
        Sample(other.id, T0, 5.0),
        Sample(metric.id, T0 + 2 * S, 98.0),  # a repeat within the batch: the first one counts
        Sample(metric.id, T0, 97.0),  # stored already
        Sample(other.id, T0, 6.0),
        Sample(metric.id, T0 + 3 * S, 13.0),
    ]
    assert records_ingest(samples=batch) == 3

    assert stored(metric) == [(T0, 10.0), (T0 + S, 11.0), (T0 + 2 * S, 12.0), (T0 + 3 * S, 13.0)]
    assert stored(other) == [(T0, 5.0)]
    metric.refresh_from_db()
    other.refresh_from_db()
    assert (metric.reference, other.reference) == (10.0, 5.0)
    assert rollup(metric) == (4, 11.5, 10.0, 13.0, 10.0, 13.0)
    assert rollup(other) == (1, 5.0, 5.0, 5.0, 5.0, 5.0)
    assert records_ingest(samples=batch) == 0
    assert MinuteRollup.objects.get(metric=metric).count == 4


@pytest.mark.django_db(transaction=True)
def test_two_ingests_in_one_transaction_each_store_their_own_rows():
    metric = metric_create()
    sent: list[RecordsIngested] = []
    with subscribed(sent.append), transaction.atomic():
        assert (
            records_ingest(samples=[Sample(metric.id, T0 + i * S, 1.0 + i) for i in range(3)]) == 3
        )
        # The second batch repeats one row of the first: nothing of the first comes back.
        second = [Sample(metric.id, T0 + 2 * S, 50.0), Sample(metric.id, T0 + 3 * S, 4.0)]
        assert records_ingest(samples=second) == 1
        assert records_ingest(samples=[Sample(metric.id, T0 + 3 * S, 60.0)]) == 0
    assert stored(metric) == [(T0 + i * S, 1.0 + i) for i in range(4)]
    metric.refresh_from_db()
    assert rollup(metric) == (4, 2.5, 1.0, 4.0, 1.0, 4.0)
    assert [(e.count, e.since, e.until) for e in sent] == [
        (3, T0, T0 + 2 * S),
        (1, T0 + 3 * S, T0 + 3 * S),
    ]
    assert metric.version == 2


@pytest.mark.django_db(transaction=True)
def test_rows_of_an_earlier_ingest_in_the_transaction_are_not_written_again():
    metric = metric_create()
    with transaction.atomic():
        assert records_ingest(samples=[Sample(metric.id, T0, 1.0)]) == 1
        Record.objects.filter(metric=metric).delete()
        assert records_ingest(samples=[Sample(metric.id, T0 + S, 2.0)]) == 1
    assert stored(metric) == [(T0 + S, 2.0)]
    assert MinuteRollup.objects.get(metric=metric).count == 2  # deleting records keeps rollups


@pytest.mark.django_db(transaction=True)
def test_an_ingest_after_a_rolled_back_one_stores_its_rows():
    metric = metric_create()

    def ingest_then_fail() -> None:
        with transaction.atomic():
            records_ingest(samples=[Sample(metric.id, T0, 1.0)])
            raise RuntimeError("the caller's transaction fails after the ingest")

    with pytest.raises(RuntimeError):
        ingest_then_fail()
    assert not Record.objects.exists()

    assert records_ingest(samples=[Sample(metric.id, T0, 2.0), Sample(metric.id, T0 + S, 3.0)]) == 2
    with pytest.raises(Metric.DoesNotExist):  # rolled back after the rows were staged
        records_ingest(samples=[Sample(metric.id, T0 + 2 * S, 4.0), Sample(10**9, T0, 5.0)])
    assert records_ingest(samples=[Sample(metric.id, T0 + 3 * S, 6.0)]) == 1

    assert stored(metric) == [(T0, 2.0), (T0 + S, 3.0), (T0 + 3 * S, 6.0)]
    metric.refresh_from_db()
    assert metric.reference == 2.0
    assert rollup(metric) == (3, pytest.approx(11 / 3), 2.0, 6.0, 2.0, 6.0)


@pytest.mark.django_db
def test_a_large_batch_over_many_minutes_matches_its_rows():
    metric = metric_create()
    points = [(T0 + i * S, 100.0 + (i * 7919 % 101) / 8) for i in range(5000)]
    assert records_ingest(samples=[Sample(metric.id, t, v) for t, v in reversed(points)]) == 5000

    by_minute: dict[datetime, list[tuple[datetime, float]]] = defaultdict(list)
    for t, v in points:
        by_minute[t.replace(second=0, microsecond=0)].append((t, v))
    rollups = list(MinuteRollup.objects.filter(metric=metric).order_by("minute"))
    assert [r.minute for r in rollups] == sorted(by_minute)
    metric.refresh_from_db()
    assert metric.reference == points[-1][1]  # the first of the batch as offered
    for r in rollups:
        minute = by_minute[r.minute]
        values = [v for _, v in minute]
        assert r.count == len(values)
        assert metric.reference + r.offset_mean == pytest.approx(statistics.fmean(values))
        assert r.m2 == pytest.approx(statistics.pvariance(values) * len(values))
        assert (r.low, r.high) == (min(values), max(values))
        assert (r.first_at, r.first, r.last_at, r.last) == (*minute[0], *minute[-1])
