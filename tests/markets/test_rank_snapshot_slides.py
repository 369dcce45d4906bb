"""The stored rank, kept incrementally tick after tick, equals the rank computed from scratch:
across minute boundaries, with late records inside the open minute, and as the window slides
past old minutes. Time is injected; nothing sleeps."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import metric_create
from tests.markets.rank_oracle import assert_same_ranks, ranks_from_scratch, ranks_stored
from tracker.markets import ranking
from tracker.markets.models import MetricRank
from tracker.markets.services import Sample, ranks_refresh, records_ingest

pytestmark = pytest.mark.django_db
START = datetime(2024, 3, 1, 0, 0, 50, tzinfo=UTC)

# Gaps between ticks: seconds across minute boundaries, then hours, then a day's worth, so
# the first ticks' minutes slide out of the window while the sums are kept incrementally.
STEPS = [5, 5, 5, 20, 30, 45, 61, 59, 1, 119, 3600, 7200, 20, 40, 10800, 3600 * 6, 3600 * 5,
         3600 * 4, 55, 5, 3600 * 3, 3600 * 2, 1800, 25, 35]  # fmt: skip


def test_ticks_then_the_window_sliding_past_old_minutes(monkeypatch):
    # Incremental all the way: no periodic rebuild hides a wrong slide.
    monkeypatch.setattr(ranking, "REBUILD_AGE", timedelta(days=365))
    rng = random.Random(7)
    metrics = [metric_create(f"C{i}/USD") for i in range(5)]
    levels = {m.id: 100.0 * (i + 1) for i, m in enumerate(metrics)}
    scale = {m.id: 0.001 * (i + 1) ** 2 for i, m in enumerate(metrics)}
    early_only = metrics[0]  # records only in the first minutes: it slides out entirely
    now = START
    for tick, step in enumerate(STEPS):
        now += timedelta(seconds=step)
        samples = []
        for metric in metrics:
            if metric is early_only and tick > 8:
                continue
            levels[metric.id] *= 1 + rng.gauss(0, scale[metric.id])
            samples.append(Sample(metric.id, now, levels[metric.id]))
        if tick % 3 == 0:  # a sample stamped just before, stored late but inside the open minute
            late = now - timedelta(seconds=50)
            samples.append(Sample(metrics[1].id, late, levels[metrics[1].id] * 1.01))
        records_ingest(samples=samples, now=now)
        (refresh,) = ranks_refresh(kinds=["price"], now=now)

        assert refresh.rebuilt == (5 if tick == 0 else 0)
        assert_same_ranks(ranks_stored(kind="price"), ranks_from_scratch(kind="price", now=now))

    # The day has passed for the early metric: nothing of it is left in the window.
    assert MetricRank.objects.get(metric=early_only).count == 0
    assert MetricRank.objects.get(metric=early_only).rank is None


def test_a_refresh_without_new_records_still_slides_the_window():
    metric = metric_create()
    other = metric_create("ETH/USD")
    records_ingest(samples=[Sample(metric.id, START, 1.0), Sample(other.id, START, 1.0)], now=START)
    later = START + timedelta(minutes=3)
    records_ingest(samples=[Sample(metric.id, later, 5.0), Sample(other.id, later, 2.0)], now=later)
    ranks_refresh(kinds=["price"], now=later)
    assert MetricRank.objects.get(metric=metric).rank == 1

    day_after = START + timedelta(hours=24, minutes=1)
    ranks_refresh(kinds=["price"], now=day_after)

    assert_same_ranks(ranks_stored(kind="price"), ranks_from_scratch(kind="price", now=day_after))
    assert MetricRank.objects.get(metric=metric).count == 1


def test_old_sums_are_rebuilt_from_scratch_a_share_at_a_time(monkeypatch):
    monkeypatch.setattr(ranking, "REBUILD_MIN", 2)
    monkeypatch.setattr(ranking, "REBUILD_SHARE", 1000)
    metrics = [metric_create(f"C{i}/USD") for i in range(5)]
    records_ingest(samples=[Sample(m.id, START, float(m.id)) for m in metrics], now=START)
    assert ranks_refresh(kinds=["price"], now=START)[0].rebuilt == 5

    hour_later = START + ranking.REBUILD_AGE + timedelta(seconds=1)
    assert ranks_refresh(kinds=["price"], now=hour_later)[0].rebuilt == 2
    assert ranks_refresh(kinds=["price"], now=hour_later)[0].rebuilt == 2
    assert ranks_refresh(kinds=["price"], now=hour_later)[0].rebuilt == 1
    assert ranks_refresh(kinds=["price"], now=hour_later)[0].rebuilt == 0
