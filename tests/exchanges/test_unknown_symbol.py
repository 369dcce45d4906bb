"""A pair the exchange refuses is an UnknownSymbol, whichever way the refusal comes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tracker.exchanges import ExchangeClient, UnknownSymbol


def fetch(kraken, symbols, *, reload_markets=False):
    async def main():
        async with ExchangeClient("kraken", base_url=kraken.url, throttle=False) as client:
            await client.markets()
            if reload_markets:
                await client.markets(reload=True)
            return await client.tickers(symbols, now=datetime.now(UTC))

    return asyncio.run(main())


def test_kraken_refusing_a_pair_in_the_batch_is_an_unknown_symbol(kraken):
    kraken.delist("LTC/USD", still_in_markets=True)
    with pytest.raises(UnknownSymbol) as refused:
        fetch(kraken, ["BTC/USD", "LTC/USD"])
    assert "EQuery:Unknown asset pair" in refused.value.detail
    assert not refused.value.transient


def test_a_symbol_gone_from_the_reloaded_markets_is_an_unknown_symbol(kraken):
    kraken.delist("LTC/USD")
    with pytest.raises(UnknownSymbol):
        fetch(kraken, ["BTC/USD", "LTC/USD"], reload_markets=True)
