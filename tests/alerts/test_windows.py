"""Window sums kept in memory agree with the rollups read whole, tick after tick.

`WindowSums` keeps closed minutes and reads only the open ones; the reference here is one
aggregate over every rollup of the window. They must agree as ticks cross minute boundaries,
when evaluations come out of order, and after a backfill writes into minutes already kept.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import metric_create
from tracker.alerts.windows import WindowSums, _sums
from tracker.markets.models import Metric
from tracker.markets.services import Sample, records_ingest

pytestmark = pytest.mark.django_db

START = datetime(2026, 4, 1, 8, 0, 7, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def whole(metric_ids: list[int], since: datetime, until: datetime) -> dict[int, tuple[int, float]]:
    refs = dict(Metric.objects.filter(id__in=metric_ids).values_list("id", "reference"))
    return {
        m: (count, offsets + count * (refs[m] or 0.0))
        for m, (count, offsets) in _sums(metric_ids, since=since, until=until).items()
    }


def kept(sums: WindowSums, metric_ids: list[int], since: datetime, until: datetime):
    return {
        m: (s.count, s.total)
        for m, s in sums.stats(metric_ids=metric_ids, since=since, until=until).items()
    }


def assert_agree(sums: WindowSums, ids: list[int], at: datetime) -> None:
    got, expected = kept(sums, ids, at - WINDOW, at), whole(ids, at - WINDOW, at)
    assert got.keys() == expected.keys()
    for metric_id, (count, total) in expected.items():
        assert got[metric_id][0] == count
        assert got[metric_id][1] == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("seed", [4, 5])
def test_kept_sums_agree_with_the_rollups_tick_after_tick(seed):
    generator = random.Random(seed)
    metrics = [metric_create(f"W{i}/USD") for i in range(3)]
    ids = [m.id for m in metrics]
    sums = WindowSums()
    at = START
    for _ in range(90):  # 45 minutes at 30 s
        at += timedelta(seconds=30)
        records_ingest(
            samples=[
                Sample(m, at, generator.uniform(90, 110)) for m in ids if generator.random() < 0.9
            ]
        )
        assert_agree(sums, ids, at)
    # An evaluation of an earlier record, after later ones.
    assert_agree(sums, ids, at - timedelta(minutes=3))
    # A backfill into minutes already kept: its event makes them be read again.
    backfilled = at - timedelta(minutes=6, seconds=15)
    records_ingest(samples=[Sample(ids[0], backfilled, 1000.0)])
    sums.forget({ids[0]: backfilled})
    assert_agree(sums, ids, at)
