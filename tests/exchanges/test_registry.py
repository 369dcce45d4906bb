"""The registry finds an exchange's adapter by id: its own, the generic one, or none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tracker.exchanges import (
    ExchangeAdapter,
    ExchangeClient,
    UnsupportedExchange,
    adapter_for,
    supported_exchanges,
)
from tracker.exchanges.bitstamp import BitstampAdapter
from tracker.exchanges.generic import GenericAdapter
from tracker.exchanges.kraken import KrakenAdapter
from tracker.exchanges.registry import ADAPTERS, adapter_class


@pytest.mark.parametrize(
    ("exchange_id", "adapter"), [("kraken", KrakenAdapter), ("bitstamp", BitstampAdapter)]
)
def test_an_exchange_with_an_adapter_of_its_own_gets_it(exchange_id, adapter):
    assert adapter_class(exchange_id) is adapter
    built = adapter_for(exchange_id, base_url="http://127.0.0.1:9")
    try:
        assert type(built) is adapter
        assert built.name == exchange_id
        assert built.has_stream is (exchange_id == "kraken")  # ccxt.pro streams Kraken's tickers
    finally:
        asyncio.run(built.close())


def test_every_registered_import_string_names_an_adapter():
    for exchange_id, path in ADAPTERS.items():
        adapter = adapter_class(exchange_id)
        assert issubclass(adapter, ExchangeAdapter)
        assert f"{adapter.__module__}.{adapter.__qualname__}" == path


def test_another_exchange_ccxt_supports_gets_the_generic_adapter():
    assert "binance" not in ADAPTERS
    built = adapter_for("binance", throttle=False)
    try:
        assert type(built) is GenericAdapter
        assert built.name == "binance"
        assert built.url.startswith("https://")
    finally:
        asyncio.run(built.close())


def test_an_id_ccxt_does_not_know_is_unsupported():
    with pytest.raises(UnsupportedExchange, match="'nopex'"):
        adapter_for("nopex")
    with pytest.raises(UnsupportedExchange):
        ExchangeClient("nopex")


def test_supported_exchanges_are_ccxts_ids_sorted():
    ids = supported_exchanges()
    assert {"kraken", "bitstamp", "binance", "coinbase"} <= set(ids)
    assert ids == sorted(ids)
    assert len(ids) > 50


def test_exchange_client_is_the_registrys_adapter_behind_the_same_interface(bitstamp):
    async def main() -> None:
        async with ExchangeClient("bitstamp", base_url=bitstamp.url, throttle=False) as client:
            assert isinstance(client, ExchangeAdapter)
            assert type(client.adapter) is BitstampAdapter
            assert client.url == f"{bitstamp.url}/api"
            assert client.candle_limit == BitstampAdapter.candle_limit
            assert "BTC/USD" in await client.markets()
            batch = await client.tickers(["BTC/USD"], now=datetime.now(UTC))
            assert [t.symbol for t in batch.tickers] == ["BTC/USD"]
            assert len(await client.candles("BTC/USD", limit=2)) == 2
            assert not client.has_stream
            with pytest.raises(UnsupportedExchange, match="bitstamp has no ticker stream"):
                client.ticker_stream(["BTC/USD"])

    asyncio.run(main())


def test_a_base_url_must_be_http_with_a_host():
    with pytest.raises(ValueError, match="http"):
        adapter_for("kraken", base_url="ftp://example.org")
