"""The stand-in speaks Kraken's wire format as the real ccxt client reads it."""

from __future__ import annotations

import itertools
from typing import Any

import ccxt.async_support as ccxt
import pytest

from tests.fakes.base import ccxt_run, fake_get
from tests.fakes.kraken import FakeKraken


def ccxt_kraken(fake: FakeKraken) -> Any:
    client = ccxt.kraken({"enableRateLimit": False})
    client.urls["api"] = {**client.urls["api"], "public": fake.url, "private": fake.url}
    return client


def run(fake: FakeKraken, call: str, *args: Any) -> Any:
    return ccxt_run(ccxt_kraken(fake), call, *args)


def test_ccxt_maps_kraken_names_to_unified_symbols(kraken):
    markets = run(kraken, "load_markets")
    assert {"BTC/USD", "DOGE/USD", "ETH/USD"} <= set(markets)
    assert markets["BTC/USD"]["id"] == "XXBTZUSD"
    assert markets["DOGE/USD"]["id"] == "XDGUSD"


def test_tickers_come_back_under_unified_symbols_from_one_call(kraken):
    kraken.prices.set("BTC/USD", 42284.6, 1414.57)
    tickers = run(kraken, "fetch_tickers", ["BTC/USD", "DOGE/USD"])
    assert tickers["BTC/USD"]["last"] == 42284.6
    assert tickers["BTC/USD"]["baseVolume"] == 1414.57
    assert tickers["DOGE/USD"]["last"] > 0
    ticker_calls = [query for method, query, _ in kraken.requests if method == "Ticker"]
    assert ticker_calls == [{"pair": "XXBTZUSD,XDGUSD"}]


def test_ohlc_candles_are_served_at_the_asked_interval(kraken):
    candles = run(kraken, "fetch_ohlcv", "BTC/USD", "5m")
    assert 1 <= len(candles) <= 720
    assert all(b[0] - a[0] == 300_000 for a, b in itertools.pairwise(candles))


def test_time_and_system_status(kraken):
    status, body = fake_get(kraken, "/0/public/Time")
    assert status == 200
    assert body["error"] == []
    assert isinstance(body["result"]["unixtime"], int)
    assert fake_get(kraken, "/0/public/SystemStatus")[1]["result"]["status"] == "online"


def test_an_unknown_pair_fails_the_whole_call_like_kraken(kraken):
    status, body = fake_get(kraken, "/0/public/Ticker?pair=XBTUSD,NOPEUSD")
    assert status == 200
    assert body == {"error": ["EQuery:Unknown asset pair"]}


def test_misbehaviour_applies_to_the_chosen_method_and_count(kraken):
    kraken.misbehave("rate_limit", method="Ticker", times=1)
    assert fake_get(kraken, "/0/public/Time")[0] == 200
    assert fake_get(kraken, "/0/public/Ticker?pair=XBTUSD") == (
        429,
        {"error": ["EAPI:Rate limit exceeded"]},
    )
    assert fake_get(kraken, "/0/public/Ticker?pair=XBTUSD")[0] == 200


def test_unknown_mode_is_refused(kraken):
    with pytest.raises(ValueError, match="unknown mode"):
        kraken.misbehave("explode")


def test_a_delisted_pair_fails_every_ticker_call_that_names_it(kraken):
    kraken.delist("LTC/USD")
    assert fake_get(kraken, "/0/public/Ticker?pair=XBTUSD,LTCUSD")[1] == {
        "error": ["EQuery:Unknown asset pair"]
    }
    assert fake_get(kraken, "/0/public/Ticker?pair=XBTUSD")[1]["error"] == []
    assert "LTC/USD" not in run(kraken, "load_markets")


def test_a_delisted_pair_can_stay_in_the_markets_list(kraken):
    kraken.delist("LTC/USD", still_in_markets=True)
    assert "LTC/USD" in run(kraken, "load_markets")
    assert fake_get(kraken, "/0/public/Ticker?pair=LTCUSD")[1] == {
        "error": ["EQuery:Unknown asset pair"]
    }
    kraken.relist("LTC/USD")
    assert fake_get(kraken, "/0/public/Ticker?pair=LTCUSD")[1]["error"] == []
