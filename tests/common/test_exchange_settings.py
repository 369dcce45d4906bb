"""Parsing of the TRACKER_EXCHANGE* knobs and TRACKER_PAIRS into the exchanges to seed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tracker.common.exchange_settings import ExchangeSeed, exchange_seeds_parse


def parse(**given):
    given.setdefault("exchanges", None)
    given.setdefault("exchange", None)
    given.setdefault("exchange_url", None)
    return exchange_seeds_parse(**given)


def test_nothing_set_seeds_kraken():
    assert parse() == [ExchangeSeed(name="kraken")]


def test_the_single_exchange_form_keeps_working():
    seeds = parse(exchange="bitstamp", exchange_url="http://127.0.0.1:8766", pairs="BTC/USD")
    assert seeds == [
        ExchangeSeed(name="bitstamp", base_url="http://127.0.0.1:8766", required=("BTC/USD",))
    ]


def test_two_exchanges_with_urls_and_pairs():
    seeds = parse(
        exchanges="kraken,bitstamp",
        urls="kraken=http://127.0.0.1:8765, bitstamp=http://127.0.0.1:8766",
        ws_urls="kraken=ws://127.0.0.1:8767",
        pairs="BTC/USD,bitstamp:ETH/EUR,kraken:BTC/USD",
    )
    assert seeds == [
        ExchangeSeed(
            name="kraken",
            base_url="http://127.0.0.1:8765",
            ws_url="ws://127.0.0.1:8767",
            required=("BTC/USD",),
        ),
        ExchangeSeed(
            name="bitstamp",
            base_url="http://127.0.0.1:8766",
            required=("ETH/EUR",),
            optional=("BTC/USD",),
        ),
    ]


def test_exchange_url_names_the_exchange_in_exchange():
    seeds = parse(exchanges="kraken,bitstamp", exchange="bitstamp", exchange_url="http://h:1")
    assert [seed.base_url for seed in seeds] == ["", "http://h:1"]


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"exchanges": "Kraken"}, "not an exchange id"),
        ({"exchanges": "kraken,kraken"}, "named twice"),
        ({"exchanges": "kraken", "exchange": "bitstamp"}, "is not in TRACKER_EXCHANGES"),
        ({"exchanges": "kraken", "urls": "kraken"}, "name=URL"),
        ({"exchanges": "kraken", "urls": "binance=http://h"}, "'binance' is not in"),
        ({"exchanges": "kraken", "urls": "kraken=ftp://h"}, "must start with http://"),
        ({"exchanges": "kraken", "ws_urls": "kraken=http://h"}, "must start with ws://"),
        ({"exchanges": "kraken,bitstamp", "exchange_url": "http://h"}, "TRACKER_EXCHANGE_URLS"),
        ({"exchange_url": "h:1"}, "TRACKER_EXCHANGE_URL must start"),
        ({"exchanges": "kraken", "pairs": "BTCUSD"}, "is not a pair"),
        ({"exchanges": "kraken", "pairs": "binance:BTC/USD"}, "names 'binance'"),
    ],
)
def test_bad_values_say_what_is_wrong(given, said):
    with pytest.raises(ImproperlyConfigured, match=said):
        parse(**given)
