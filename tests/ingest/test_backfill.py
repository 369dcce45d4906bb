"""Backfill from candles: 24 hours of price on both stand-ins, next to polled records."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest

from tests.fakes.bitstamp import FakeBitstamp
from tracker.common.clock import utc_now
from tracker.ingest import backfill, pairs
from tracker.markets import selectors, services
from tracker.markets.models import Metric, MinuteRollup, Record
from tracker.markets.services import Sample, exchange_get_or_create, records_ingest

pytestmark = pytest.mark.django_db


def added(name: str, url: str, symbol: str = "BTC/USD"):
    where = exchange_get_or_create(name=name, base_url=url)
    return pairs.pair_add(exchange=where, symbol=symbol, now=utc_now())


@pytest.mark.parametrize("name", ["kraken", "bitstamp"])
def test_a_new_pair_gets_24_hours_of_price_from_the_candles(name, request):
    fake = request.getfixturevalue(name)
    pair = added(name, fake.url)
    now = utc_now()

    (result,) = backfill.pairs_backfill(pairs=[pair], hours=24, now=now)

    assert result.error == ""
    price = Metric.objects.get(pair=pair, kind="price")
    stamps = list(price.records.values_list("timestamp", flat=True))
    assert stamps[0] <= now - timedelta(hours=23, minutes=50)
    assert now - timedelta(minutes=2) <= stamps[-1] <= now  # the forming candle is left out
    assert all(s.second == 0 and s.microsecond == 0 for s in stamps)  # at candles' close times
    # One-minute candles cover at least the last 12 hours (Kraken keeps 720 of them).
    recent = [s for s in stamps if s >= now - timedelta(hours=11, minutes=50)]
    assert all(b - a == timedelta(minutes=1) for a, b in pairwise(recent))
    assert len(stamps) >= 720 + 140
    assert MinuteRollup.objects.filter(metric=price).count() == len(stamps)
    assert not Record.objects.filter(metric__pair=pair, metric__kind="volume").exists()
    pair.refresh_from_db()
    assert (pair.backfilled_from, pair.backfilled_until) == (stamps[0], stamps[-1])
    assert (result.stored, result.since, result.until) == (len(stamps), stamps[0], stamps[-1])
    services.ranks_refresh(kinds=["price"], now=now)
    rank = selectors.metric_rank(metric=price)
    assert rank.stddev is not None and rank.stddev > 0


def test_polled_records_win_and_a_second_backfill_stores_nothing(bitstamp):
    pair = added("bitstamp", bitstamp.url)
    price = Metric.objects.get(pair=pair, kind="price")
    now = utc_now()
    polled_at = (now - timedelta(hours=3)).replace(second=30, microsecond=0)
    records_ingest(samples=[Sample(metric_id=price.id, timestamp=polled_at, value=1.5)])

    first = backfill.pairs_backfill(pairs=[pair], hours=6, now=now)[0]
    again = backfill.pairs_backfill(pairs=[pair], hours=6, now=now)[0]

    minute = polled_at.replace(second=0)
    in_minute = price.records.filter(
        timestamp__gte=minute, timestamp__lt=minute + timedelta(minutes=1)
    )
    assert list(in_minute.values_list("value", flat=True)) == [1.5]
    assert first.stored == first.fetched - 1
    assert again.stored == 0
    assert price.records.count() == first.stored + 1


class FailingBitstamp(FakeBitstamp):
    """Answers the first candles call, then fails every other."""

    def answer(self, method: str, query: dict[str, str]) -> tuple[int, Any]:
        if method == "ohlc":
            self.ohlc_calls = getattr(self, "ohlc_calls", 0) + 1
            if self.ohlc_calls > 1:
                return 503, {"status": "error", "reason": "maintenance", "code": "503.000"}
        return super().answer(method, query)


def test_an_exchange_failing_halfway_leaves_what_was_stored_and_says_why():
    with FailingBitstamp() as fake:
        pair = added("bitstamp", fake.url)
        (result,) = backfill.pairs_backfill(pairs=[pair], hours=24, now=utc_now())

    assert result.error
    assert result.stored == 1000  # the first page of Bitstamp's 1,000 candles
    assert Record.objects.filter(metric__pair=pair).count() == 1000
    pair.refresh_from_db()
    assert pair.backfilled_from == result.since and pair.backfilled_until == result.until
