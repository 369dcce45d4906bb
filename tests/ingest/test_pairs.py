"""Pair management: adding checked against the exchange's markets, removing, purging, in bulk."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.factories import records_add
from tests.fakes.bitstamp import BitstampPair, FakeBitstamp
from tracker.common.clock import utc_now
from tracker.ingest import pairs
from tracker.markets.models import Metric, MetricKind, MinuteRollup, Pair, PairStatus, Record
from tracker.markets.services import exchange_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["kraken", "bitstamp"])
def exchange(request):
    fake = request.getfixturevalue(request.param)
    return exchange_get_or_create(name=request.param, base_url=fake.url), fake


def test_a_listed_symbol_becomes_a_pair_with_one_metric_per_kind(exchange):
    where, _ = exchange
    pair = pairs.pair_add(exchange=where, symbol="ETH/USD", now=utc_now())

    assert (pair.symbol, pair.status) == ("ETH/USD", PairStatus.ACTIVE)
    assert sorted(pair.metrics.values_list("kind", flat=True)) == sorted(MetricKind.values)


def test_an_added_pair_gets_only_the_configured_metric_kinds(kraken, settings):
    settings.TRACKER_METRICS = ["price", "spread"]
    where = exchange_get_or_create(name="kraken", base_url=kraken.url)
    pair = pairs.pair_add(exchange=where, symbol="ETH/USD", now=utc_now())
    assert sorted(pair.metrics.values_list("kind", flat=True)) == ["price", "spread"]


def test_an_unlisted_symbol_is_refused_naming_close_matches(exchange):
    where, _ = exchange
    with pytest.raises(pairs.PairUnknown) as refused:
        pairs.pair_add(exchange=where, symbol="ETH/EUR", now=utc_now())

    assert "ETH/USD" in refused.value.matches
    assert "Close matches: ETH/USD" in str(refused.value)
    assert not Pair.objects.exists()


def test_a_tracked_pair_is_refused_with_its_own_error(exchange):
    where, _ = exchange
    pairs.pair_add(exchange=where, symbol="BTC/USD", now=utc_now())
    with pytest.raises(pairs.PairTracked):
        pairs.pair_add(exchange=where, symbol="BTC/USD", now=utc_now())


def test_the_markets_list_is_kept_for_a_day_and_reloaded_on_a_miss(kraken):
    where = exchange_get_or_create(name="kraken", base_url=kraken.url)
    now = utc_now()
    pairs.pair_add(exchange=where, symbol="BTC/USD", now=now)
    pairs.pair_add(exchange=where, symbol="ETH/USD", now=now + timedelta(hours=1))
    assert kraken.request_count("AssetPairs") == 1

    with pytest.raises(pairs.PairUnknown):
        pairs.pair_add(exchange=where, symbol="NOPE/USD", now=now + timedelta(hours=2))
    assert kraken.request_count("AssetPairs") == 2  # a miss reloads once

    pairs.pair_add(exchange=where, symbol="LTC/USD", now=now + timedelta(days=1, hours=3))
    assert kraken.request_count("AssetPairs") == 3  # a day old


def test_an_unreachable_exchange_is_an_exchange_error(kraken):
    where = exchange_get_or_create(name="kraken", base_url=kraken.url)
    kraken.misbehave("http_error", status=503)
    with pytest.raises(pairs.ExchangeError):
        pairs.pair_add(exchange=where, symbol="BTC/USD", now=utc_now())


def test_removing_pauses_the_pair_and_keeps_its_history(kraken):
    where = exchange_get_or_create(name="kraken", base_url=kraken.url)
    pair = pairs.pair_add(exchange=where, symbol="BTC/USD", now=utc_now())
    records_add(pair.metrics.get(kind="price"), [1.0, 2.0, 3.0], end=utc_now())

    pairs.pair_remove(pair=pair, now=utc_now(), by="sam")

    pair.refresh_from_db()
    assert (pair.status, pair.status_reason) == (PairStatus.PAUSED, "removed by sam")
    assert Record.objects.filter(metric__pair=pair).count() == 3


def test_purging_deletes_the_pair_metrics_records_and_rollups_in_batches(kraken, monkeypatch):
    monkeypatch.setattr(pairs, "PURGE_BATCH", 7)
    where = exchange_get_or_create(name="kraken", base_url=kraken.url)
    pair = pairs.pair_add(exchange=where, symbol="BTC/USD", now=utc_now())
    kept = pairs.pair_add(exchange=where, symbol="ETH/USD", now=utc_now())
    for owner in (pair, kept):
        records_add(
            owner.metrics.get(kind="price"), [float(i + 1) for i in range(30)], end=utc_now()
        )

    pairs.pair_remove(pair=pair, now=utc_now(), purge=True)

    assert not Pair.objects.filter(id=pair.id).exists()
    assert not Metric.objects.filter(pair_id=pair.id).exists()
    assert set(Record.objects.values_list("metric__pair_id", flat=True)) == {kept.id}
    assert MinuteRollup.objects.filter(metric__pair=kept).count() == 30
    assert MinuteRollup.objects.count() == 30


def test_ten_thousand_pairs_are_added_in_seconds_in_a_few_queries(django_assert_max_num_queries):
    symbols = [f"C{i:05d}/USD" for i in range(10_000)]
    with FakeBitstamp(pairs=[BitstampPair(s) for s in symbols]) as fake:
        where = exchange_get_or_create(name="bitstamp", base_url=fake.url)
        started = time.monotonic()
        # SQLite caps the parameters of one statement, so inserts go in batches of a hundred
        # or so rows: a few hundred queries, where one per row would be 30,000.
        with django_assert_max_num_queries(400):
            added = pairs.pairs_add_many(exchange=where, symbols=symbols, now=utc_now())
        elapsed = time.monotonic() - started

    assert len(added) == 10_000
    assert Metric.objects.filter(pair__exchange=where).count() == 10_000 * len(MetricKind.values)
    assert elapsed < 30, (
        elapsed
    )  # seconds on a loaded two-core runner; one query per row is minutes


def test_adding_many_skips_tracked_pairs_and_refuses_all_if_one_is_unlisted(bitstamp):
    where = exchange_get_or_create(name="bitstamp", base_url=bitstamp.url)
    pairs.pair_add(exchange=where, symbol="BTC/USD", now=utc_now())

    with pytest.raises(pairs.PairUnknown):
        pairs.pairs_add_many(exchange=where, symbols=["ETH/USD", "BTC/EUR"], now=utc_now())
    assert list(Pair.objects.values_list("symbol", flat=True)) == ["BTC/USD"]

    added = pairs.pairs_add_many(exchange=where, symbols=["BTC/USD", "ETH/USD"], now=utc_now())
    assert [p.symbol for p in added] == ["ETH/USD"]
