"""The metric detail reads its rank snapshot: the same queries with 10 metrics or 200."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache

from tracker.common.clock import utc_now
from tracker.markets import services
from tracker.markets.models import Metric, MetricKind

pytestmark = pytest.mark.django_db


def _tracked(pairs: int) -> Metric:
    """`pairs` pairs (five metrics each) with two records of every price, ranked."""
    exchange = services.exchange_get_or_create(name="kraken")
    created = services.pairs_create(exchange=exchange, symbols=[f"C{i}/USD" for i in range(pairs)])
    prices = list(Metric.objects.filter(pair__in=created, kind=MetricKind.PRICE))
    now = utc_now()
    for offset, value in ((timedelta(seconds=2), 1.0), (timedelta(seconds=1), 2.0)):
        services.records_ingest(
            samples=[services.Sample(m.id, now - offset, value * m.id) for m in prices], now=now
        )
    services.ranks_refresh(kinds=[MetricKind.PRICE], now=now)
    return prices[0]


def _detail(api, metric: Metric) -> dict:
    cache.clear()  # computed, not served from the cache
    response = api.get(f"/api/v1/metrics/{metric.id}")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("pairs", [2, 40])  # 10 metrics, 200 metrics
def test_the_detail_costs_the_same_with_10_or_200_metrics(api, pairs, django_assert_num_queries):
    metric = _tracked(pairs)
    assert Metric.objects.count() == 5 * pairs
    with django_assert_num_queries(3):  # the version (metric and snapshot), the metric, its rank
        body = _detail(api, metric)
    assert (body["rank_of"], body["records_24h"]) == (pairs, 2)
