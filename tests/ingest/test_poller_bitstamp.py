"""The poller on Bitstamp: the same service, another adapter and wire format."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from tests.fakes.bitstamp import FakeBitstamp
from tracker.exchanges import ExchangeClient
from tracker.ingest.backoff import Backoff
from tracker.ingest.poller import Poller
from tracker.markets.models import Pair, PairStatus, Record

pytestmark = pytest.mark.django_db(transaction=True)
T = TypeVar("T")
SYMBOLS = ("BTC/USD", "ETH/USD", "LTC/USD")
START = datetime(2024, 3, 1, 12, tzinfo=UTC)


def with_poller(bitstamp: FakeBitstamp, body: Callable[[Poller], Awaitable[T]]) -> T:
    async def main() -> T:
        async with ExchangeClient(
            "bitstamp", base_url=bitstamp.url, timeout=1, throttle=False
        ) as client:
            poller = Poller(
                client=client,
                symbols=SYMBOLS,
                base_url=bitstamp.url,
                backoff=Backoff(base=10, cap=60, rng=random.Random(7)),
                clock=lambda: START,
            )
            try:
                return await body(poller)
            finally:
                await sync_to_async(connections.close_all)()

    return asyncio.run(main())


def test_a_tick_stores_every_metric_from_one_ticker_call(bitstamp):
    bitstamp.prices.set("BTC/USD", 42000.0, 3563.1)

    result = with_poller(bitstamp, lambda p: p.tick())

    assert result is not None and result.stored == 15  # 3 pairs x 5 metrics
    assert [m for m, _, _ in bitstamp.requests] == ["markets", "ticker"]
    price = Record.objects.get(metric__pair__symbol="BTC/USD", metric__kind="price")
    assert (price.value, price.timestamp) == (42000.0, START)
    assert set(Pair.objects.values_list("exchange__name", flat=True)) == {"bitstamp"}


@pytest.mark.parametrize(
    "still_in_markets", [False, True], ids=["gone-from-the-markets", "still-in-the-markets"]
)
def test_a_pair_bitstamp_stops_serving_is_delisted_and_the_others_are_stored(
    bitstamp, still_in_markets
):
    async def body(poller: Poller) -> None:
        assert await poller.tick() is not None
        bitstamp.delist("LTC/USD", still_in_markets=still_in_markets)
        poller.clock = lambda: START + timedelta(minutes=1)
        result = await poller.tick()
        assert result is not None and result.stored == 10
        assert [symbol for symbol, _ in result.delisted] == ["LTC/USD"]

    with_poller(bitstamp, body)

    pair = Pair.objects.get(symbol="LTC/USD")
    assert pair.status == PairStatus.DELISTED
    if still_in_markets:
        assert "still list" in pair.status_reason
    else:
        assert pair.status_reason == "bitstamp no longer lists LTC/USD in its markets"
