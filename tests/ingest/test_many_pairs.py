"""10,000 pairs on one exchange: one tick asks for every ticker in one Ticker call and stores
every metric of every pair (50,000 records: more ids than SQLite takes as parameters).
Not timed here; bench/poll.py measures it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from tests.fakes.kraken import FakeKraken, FakePair
from tracker.exchanges import ExchangeClient
from tracker.ingest.services import exchange_poll
from tracker.markets import services
from tracker.markets.models import Metric, Record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
COUNT = 10_000
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_a_tick_of_ten_thousand_pairs_is_one_ticker_call_and_stores_all():
    pairs = [
        FakePair(f"C{i:05d}/USD", f"C{i:05d}USD", f"C{i:05d}USD", f"C{i:05d}/USD", f"C{i:05d}",
                 "ZUSD")
        for i in range(COUNT)
    ]  # fmt: skip
    with FakeKraken(pairs=pairs) as kraken:
        exchange = services.exchange_get_or_create(name="kraken", base_url=kraken.url)
        services.pairs_create(exchange=exchange, symbols=[p.symbol for p in pairs])
        assert Metric.objects.count() == COUNT * 5

        async def main():
            async with ExchangeClient(
                "kraken", base_url=kraken.url, timeout=60, throttle=False
            ) as client:
                try:
                    return await exchange_poll(client=client, exchange=exchange, now=NOW)
                finally:
                    await sync_to_async(connections.close_all)()

        result = asyncio.run(main())

    assert (result.fetched, result.stored, result.rejected) == (COUNT, COUNT * 5, ())
    assert kraken.request_count("Ticker") == 1
    assert Record.objects.filter(timestamp=NOW).count() == COUNT * 5
