"""The SQL standard deviation agrees with `statistics.pstdev` on arbitrary data."""

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import metric_create, records_add
from tracker.markets.selectors import metric_rank, spreads_by_kind
from tracker.markets.services import ranks_refresh

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.django_db

prices = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)
series = st.lists(prices, min_size=2, max_size=60)


def _tolerance(expected: float, values: list[float]) -> float:
    # Double precision cannot resolve deviations much below ~1e-13 of the values' magnitude.
    return 1e-9 * expected + 1e-12 * max(abs(v) for v in values)


def _close(actual: float, expected: float, values: list[float]) -> bool:
    return abs(actual - expected) <= _tolerance(expected, values)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.lists(series, min_size=1, max_size=4))
def test_stddev_and_rank_match_statistics(data):
    with transaction.atomic():
        metrics = [metric_create(f"C{i}/USD") for i in range(len(data))]
        for metric, values in zip(metrics, data, strict=True):
            records_add(metric, values, end=NOW)

        spreads = {
            s.metric_id: s
            for s in spreads_by_kind(kind="price", since=NOW - timedelta(days=1), until=NOW)
        }
        expected = {m.id: statistics.pstdev(v) for m, v in zip(metrics, data, strict=True)}
        for metric, values in zip(metrics, data, strict=True):
            assert spreads[metric.id].count == len(values)
            assert _close(spreads[metric.id].stddev, expected[metric.id], values)
        tolerance = {
            m.id: _tolerance(expected[m.id], v) for m, v in zip(metrics, data, strict=True)
        }
        ranks_refresh(kinds=["price"], now=NOW)
        for metric in metrics:
            ranked = metric_rank(metric=metric)
            own, slack = expected[metric.id], tolerance[metric.id]
            # Ranked against the oracle: a metric whose oracle value is within the tolerance of
            # this one's may fall on either side of it; any other is larger or it is not.
            surely_larger = sum(
                1 for m in metrics if expected[m.id] > own + slack + tolerance[m.id]
            )
            maybe_larger = sum(
                1
                for m in metrics
                if m.id != metric.id and expected[m.id] >= own - slack - tolerance[m.id]
            )
            assert ranked.rank is not None
            assert ranked.rank_of == len(metrics)
            assert 1 + surely_larger <= ranked.rank <= 1 + maybe_larger
        transaction.set_rollback(True)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    level=st.floats(min_value=1e4, max_value=1e6),
    moves=st.lists(st.floats(min_value=-1e-3, max_value=1e-3), min_size=2, max_size=200),
)
def test_large_prices_with_tiny_moves_keep_their_precision(level, moves):
    values = [level + move for move in moves]
    with transaction.atomic():
        metric = metric_create("BTC/USD")
        records_add(metric, values, end=NOW)
        (spread,) = spreads_by_kind(kind="price", since=NOW - timedelta(days=1), until=NOW)
        assert _close(spread.stddev, statistics.pstdev(values), values)
        transaction.set_rollback(True)
