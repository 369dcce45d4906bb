"""Minute rollups: maintained on ingest, exact under any batching, never double-counted."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import metric_create
from tracker.markets.models import MinuteRollup
from tracker.markets.services import Sample, records_ingest
from tracker.markets.stats import Moments

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def close(actual: float, expected: float) -> bool:
    return abs(actual - expected) <= 1e-9 * abs(expected) + 1e-300


def split_points(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=1, max_value=max(n - 1, 1)), max_size=6).map(
        lambda cuts: sorted(set(c for c in cuts if 0 < c < n))
    )


@st.composite
def series_and_splits(
    draw: st.DrawFn, level: float, spread: float
) -> tuple[list[float], list[int]]:
    values = draw(
        st.lists(
            st.floats(min_value=-0.5, max_value=0.5).map(lambda u: level + u * spread),
            min_size=2,
            max_size=300,
        )
    )
    return values, draw(split_points(len(values)))


def merged(values: list[float], cuts: list[int]) -> Moments:
    """Moments of the pieces between `cuts`, merged; shifted by the first value, as stored."""
    bounds = [0, *cuts, len(values)]
    total = Moments()
    for start, end in itertools.pairwise(bounds):
        total = total.merge(Moments.of(values[start:end], shift=values[0]))
    return total


@settings(max_examples=200, deadline=None)
@given(
    case=st.one_of(
        series_and_splits(level=1e5, spread=1e-2),  # prices near 1e5 moving by cents
        series_and_splits(level=1e-8, spread=1e-12),  # tiny prices with tinier moves
        series_and_splits(level=30_000, spread=3_000),
    )
)
def test_merged_moments_match_statistics(case):
    values, cuts = case
    moments = merged(values, cuts)
    assert moments.count == len(values)
    assert close(values[0] + moments.mean, statistics.fmean(values))
    assert close(moments.pstdev, statistics.pstdev(values))


def test_the_naive_sum_of_squares_would_fail_where_welford_does_not():
    values = [1e5 + i * 1e-3 for i in range(1000)]
    naive = sum(v * v for v in values) / len(values) - (sum(values) / len(values)) ** 2
    exact = statistics.pvariance(values)
    assert not close(max(naive, 0.0), exact)
    assert close(Moments.of(values, shift=values[0]).m2 / len(values), exact)


@pytest.mark.django_db
def test_ingest_keeps_one_rollup_per_minute_whatever_the_batching():
    rng = random.Random(4)
    metric = metric_create()
    points = [(T0 + timedelta(seconds=s), 50_000 + rng.uniform(-5, 5)) for s in range(0, 180, 7)]
    shuffled = points[:]
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), 5):  # out of order, in small batches
        records_ingest(samples=[Sample(metric.id, t, v) for t, v in shuffled[start : start + 5]])
    records_ingest(samples=[Sample(metric.id, t, v) for t, v in points[:10]])  # repeats: no-ops

    rollups = list(MinuteRollup.objects.filter(metric=metric).order_by("minute"))
    metric.refresh_from_db()
    assert metric.reference == shuffled[0][1]

    assert [r.minute for r in rollups] == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    for rollup in rollups:
        minute = [
            (t, v)
            for t, v in points
            if t - rollup.minute < timedelta(minutes=1) and t >= rollup.minute
        ]
        values = [v for _, v in minute]
        assert rollup.count == len(values)
        assert close(metric.reference + rollup.offset_mean, statistics.fmean(values))
        assert close(rollup.m2, statistics.pvariance(values) * len(values))
        assert (rollup.low, rollup.high) == (min(values), max(values))
        assert (rollup.first, rollup.first_at) == (minute[0][1], minute[0][0])
        assert (rollup.last, rollup.last_at) == (minute[-1][1], minute[-1][0])


@pytest.mark.django_db
def test_a_repeated_record_is_not_counted_twice():
    metric = metric_create()
    assert records_ingest(samples=[Sample(metric.id, T0, 1.0), Sample(metric.id, T0, 2.0)]) == 1
    assert records_ingest(samples=[Sample(metric.id, T0, 3.0)]) == 0
    rollup = MinuteRollup.objects.get(metric=metric)
    assert (rollup.count, rollup.offset_mean, rollup.m2) == (1, 0.0, 0.0)
