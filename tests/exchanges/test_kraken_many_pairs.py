"""Kraken's Ticker call when the wanted pairs do not fit in one URL: one call for every listed
pair, however few of them are wanted (requests are spaced a second apart); and a pair missing
from the everything-answer is asked for by name, so delisting still finds it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.fakes.kraken import FakeKraken
from tracker.exchanges import UnknownSymbol
from tracker.exchanges.kraken import KrakenAdapter

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
SIX = ["BTC/USD", "ETH/USD", "LTC/USD", "XRP/USD", "SOL/USD", "ADA/USD"]


def tickers(fake: FakeKraken, symbols: list[str], *, ids_per_call: int):
    adapter = KrakenAdapter(base_url=fake.url, timeout=2, throttle=False)
    adapter.ids_per_call = ids_per_call

    async def main():
        async with adapter:
            return await adapter.tickers(symbols, now=NOW)

    return asyncio.run(main())


def ticker_queries(fake: FakeKraken) -> list[dict[str, str]]:
    return [query for method, query, _ in fake.requests if method == "Ticker"]


def test_most_listed_pairs_come_from_one_call_without_names(kraken):
    batch = tickers(kraken, SIX, ids_per_call=20)

    assert sorted(t.symbol for t in batch.tickers) == sorted(SIX)
    assert batch.rejected == ()
    assert ticker_queries(kraken) == [{}]


def test_a_few_of_many_listed_pairs_also_come_from_one_call_for_all(kraken):
    wanted = ["BTC/USD", "ETH/USD", "LTC/USD"]
    batch = tickers(kraken, wanted, ids_per_call=20)

    assert sorted(t.symbol for t in batch.tickers) == sorted(wanted)
    assert ticker_queries(kraken) == [{}]


def test_pairs_that_fit_in_one_url_are_named(kraken):
    batch = tickers(kraken, ["BTC/USD", "ETH/USD"], ids_per_call=20)

    assert sorted(t.symbol for t in batch.tickers) == ["BTC/USD", "ETH/USD"]
    assert ticker_queries(kraken) == [{"pair": "XXBTZUSD,XETHZUSD"}]


def test_a_pair_missing_from_the_answer_for_all_is_refused_by_name(kraken):
    kraken.delist("LTC/USD", still_in_markets=True)

    with pytest.raises(UnknownSymbol):
        tickers(kraken, SIX, ids_per_call=20)

    assert ticker_queries(kraken)[0] == {}
    assert any("XLTCZUSD" in q.get("pair", "") for q in ticker_queries(kraken)[1:])


def test_only_the_missing_pairs_are_named_afterwards(kraken):
    kraken.delist("LTC/USD", still_in_markets=True)
    kraken.delist("XRP/USD", still_in_markets=True)

    with pytest.raises(UnknownSymbol):
        tickers(kraken, SIX, ids_per_call=10)

    named = [q["pair"] for q in ticker_queries(kraken)[1:]]
    assert named and all(len(pair) <= 10 for pair in named)
    assert set(",".join(named).split(",")) <= {"XLTCZUSD", "XXRPZUSD"}
