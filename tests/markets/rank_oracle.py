"""The rank as computed from scratch over the rollups, to hold the stored snapshot against."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Sum

from tracker.markets.models import Metric, MinuteRollup
from tracker.markets.ranking import RANK_WINDOW, minute_floor
from tracker.markets.selectors import RankSnapshot, metric_rank, spreads_by_kind


def ranks_from_scratch(*, kind: str, now: datetime) -> dict[int, RankSnapshot]:
    """What `metric_rank` computed on every request before the snapshot: every metric of
    `kind`, ranked from one pass over the window's rollups (ranked_at left None)."""
    spreads = {
        s.metric_id: s for s in spreads_by_kind(kind=kind, since=now - RANK_WINDOW, until=now)
    }
    counts = dict(
        MinuteRollup.objects.filter(
            metric__kind=kind, minute__gte=minute_floor(now - RANK_WINDOW), minute__lte=now
        )
        .values("metric_id")
        .annotate(n=Sum("count"))
        .values_list("metric_id", "n")
    )
    expected = {}
    for metric_id in Metric.objects.filter(kind=kind).values_list("id", flat=True):
        own = spreads.get(metric_id)
        if own is None:
            expected[metric_id] = RankSnapshot(
                None, len(spreads), None, counts.get(metric_id, 0), None
            )
            continue
        larger = sum(1 for s in spreads.values() if s.stddev > own.stddev)
        expected[metric_id] = RankSnapshot(larger + 1, len(spreads), own.stddev, own.count, None)
    return expected


def ranks_stored(*, kind: str) -> dict[int, RankSnapshot]:
    return {metric.id: metric_rank(metric=metric) for metric in Metric.objects.filter(kind=kind)}


def assert_same_ranks(stored: dict[int, RankSnapshot], expected: dict[int, RankSnapshot]) -> None:
    assert set(stored) == set(expected)
    for metric_id, want in expected.items():
        got = stored[metric_id]
        assert (got.rank, got.rank_of, got.count) == (want.rank, want.rank_of, want.count), (
            metric_id
        )
        if want.stddev is None:
            assert got.stddev is None, metric_id
        else:
            assert got.stddev is not None
            assert abs(got.stddev - want.stddev) <= 1e-9 * want.stddev + 1e-12, metric_id
