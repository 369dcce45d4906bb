"""The stand-in speaks Bitstamp's wire format as the real ccxt client reads it."""

from __future__ import annotations

import itertools
from typing import Any

import ccxt.async_support as ccxt
import pytest

from tests.fakes.base import ccxt_run, fake_get
from tests.fakes.bitstamp import FakeBitstamp


def run(fake: FakeBitstamp, call: str, *args: Any) -> Any:
    client = ccxt.bitstamp({"enableRateLimit": False})
    api = f"{fake.url}/api"
    client.urls["api"] = {**client.urls["api"], "public": api, "private": api}
    return ccxt_run(client, call, *args)


def test_ccxt_reads_the_markets_list_in_one_call(bitstamp):
    markets = run(bitstamp, "load_markets")
    assert {"BTC/USD", "ETH/USD"} <= set(markets)
    assert markets["BTC/USD"]["id"] == "btcusd"
    assert markets["BTC/USD"]["active"] is True
    assert [method for method, _, _ in bitstamp.requests] == ["markets"]


def test_trading_pairs_info_is_the_same_list(bitstamp):
    assert fake_get(bitstamp, "/api/v2/trading-pairs-info/") == fake_get(
        bitstamp, "/api/v2/markets/"
    )


def test_every_ticker_comes_from_one_call_as_strings(bitstamp):
    bitstamp.prices.set("BTC/USD", 42284.6, 1414.57)
    tickers = run(bitstamp, "fetch_tickers", ["BTC/USD", "ETH/USD"])
    assert tickers["BTC/USD"]["last"] == 42284.6
    assert tickers["BTC/USD"]["baseVolume"] == 1414.57
    assert tickers["BTC/USD"]["bid"] < 42284.6 < tickers["BTC/USD"]["ask"]
    status, body = fake_get(bitstamp, "/api/v2/ticker/")
    assert status == 200 and all(isinstance(entry["last"], str) for entry in body)
    assert fake_get(bitstamp, "/api/v2/ticker/btcusd/")[1]["pair"] == "BTC/USD"


def test_ohlc_candles_are_served_oldest_first_at_the_asked_step(bitstamp):
    candles = run(bitstamp, "fetch_ohlcv", "BTC/USD", "5m", None, 10)
    assert len(candles) == 10
    assert all(b[0] - a[0] == 300_000 for a, b in itertools.pairwise(candles))
    status, body = fake_get(bitstamp, "/api/v2/ohlc/btcusd/?step=7&limit=5")
    assert status == 400 and body["status"] == "error"


def test_an_unknown_pair_is_a_404_with_an_error_body(bitstamp):
    status, body = fake_get(bitstamp, "/api/v2/ticker/nopeusd/")
    assert status == 404
    assert body["status"] == "error" and body["reason"] and body["code"]
    assert fake_get(bitstamp, "/api/v2/ohlc/nopeusd/?step=60")[0] == 404


def test_misbehaviour_applies_to_the_chosen_method_and_count(bitstamp):
    bitstamp.misbehave("rate_limit", method="ticker", times=1)
    assert fake_get(bitstamp, "/api/v2/markets/")[0] == 200
    status, body = fake_get(bitstamp, "/api/v2/ticker/")
    assert status == 429 and body["status"] == "error"
    assert fake_get(bitstamp, "/api/v2/ticker/")[0] == 200


def test_unknown_mode_is_refused(bitstamp):
    with pytest.raises(ValueError, match="unknown mode"):
        bitstamp.misbehave("explode")


def test_a_delisted_pair_leaves_the_tickers_and_the_markets(bitstamp):
    bitstamp.delist("LTC/USD")
    assert "LTC/USD" not in {entry["pair"] for entry in fake_get(bitstamp, "/api/v2/ticker/")[1]}
    assert "LTC/USD" not in run(bitstamp, "load_markets")
    assert fake_get(bitstamp, "/api/v2/ticker/ltcusd/")[0] == 404
    bitstamp.relist("LTC/USD")
    assert fake_get(bitstamp, "/api/v2/ticker/ltcusd/")[0] == 200


def test_a_delisted_pair_can_stay_in_the_markets_list(bitstamp):
    bitstamp.delist("LTC/USD", still_in_markets=True)
    assert "LTC/USD" in run(bitstamp, "load_markets")
    assert fake_get(bitstamp, "/api/v2/ticker/ltcusd/")[0] == 404
