"""Rank: metrics of one kind ordered by their 24-hour population standard deviation."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import metric_create, records_add
from tracker.markets.models import MetricKind
from tracker.markets.selectors import RankSnapshot
from tracker.markets.selectors import metric_rank as rank_read
from tracker.markets.services import ranks_refresh

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def metric_rank(*, metric, now) -> RankSnapshot:
    """The snapshot as a refresh at `now` writes it."""
    ranks_refresh(kinds=[metric.kind], now=now)
    return rank_read(metric=metric)


def test_known_answers():
    calm = metric_create("ETH/USD")
    wild = metric_create("BTC/USD")
    middle = metric_create("SOL/USD")
    records_add(calm, [10, 10, 10], end=NOW)  # stddev 0
    records_add(wild, [1, 5], end=NOW)  # stddev 2
    records_add(middle, [1, 2, 3], end=NOW)  # stddev sqrt(2/3)

    ranks = {m.pair.symbol: metric_rank(metric=m, now=NOW) for m in (calm, wild, middle)}

    assert [ranks[s].rank for s in ("BTC/USD", "SOL/USD", "ETH/USD")] == [1, 2, 3]
    assert ranks["BTC/USD"].stddev == pytest.approx(2.0)
    assert ranks["SOL/USD"].stddev == pytest.approx((2 / 3) ** 0.5)
    assert ranks["ETH/USD"].stddev == 0
    assert {r.rank_of for r in ranks.values()} == {3}


def test_prices_and_volumes_are_ranked_separately():
    btc_price = metric_create("BTC/USD", MetricKind.PRICE)
    btc_volume = metric_create("BTC/USD", MetricKind.VOLUME)
    eth_volume = metric_create("ETH/USD", MetricKind.VOLUME)
    records_add(btc_price, [1, 100], end=NOW)
    records_add(btc_volume, [1, 2], end=NOW)
    records_add(eth_volume, [1, 3], end=NOW)

    price = metric_rank(metric=btc_price, now=NOW)
    volume = metric_rank(metric=btc_volume, now=NOW)

    assert (price.rank, price.rank_of) == (1, 1)
    assert (volume.rank, volume.rank_of) == (2, 2)


def test_fewer_than_two_records_in_window_is_unranked():
    lonely = metric_create("BTC/USD")
    other = metric_create("ETH/USD")
    records_add(lonely, [5], end=NOW)
    records_add(other, [1, 2], end=NOW)

    ranked = metric_rank(metric=lonely, now=NOW)

    assert ranked.rank is None
    assert ranked.stddev is None
    assert ranked.count == 1
    assert ranked.rank_of == 1


def test_only_the_last_24_hours_count():
    metric = metric_create("BTC/USD")
    other = metric_create("ETH/USD")
    # A huge move 25 hours ago would make BTC the most volatile, but it is outside the window.
    records_add(metric, [1, 1000], end=NOW - timedelta(hours=25), step=timedelta(hours=1))
    records_add(metric, [100, 100, 100], end=NOW)
    records_add(other, [1, 2], end=NOW)

    ranked = metric_rank(metric=metric, now=NOW)

    assert (ranked.rank, ranked.stddev, ranked.count) == (2, 0, 3)


def test_ties_share_the_better_position():
    a, b, c = (metric_create(s) for s in ("A/USD", "B/USD", "C/USD"))
    records_add(a, [1, 3], end=NOW)
    records_add(b, [2, 4], end=NOW)
    records_add(c, [1, 9], end=NOW)

    assert [metric_rank(metric=m, now=NOW).rank for m in (c, a, b)] == [1, 2, 2]
