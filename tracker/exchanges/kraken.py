"""Kraken: what differs from the generic ccxt adapter.

- One Ticker call serves many pairs (`pair=XXBTZUSD,XETHZUSD,...`), keyed by Kraken's own pair
  ids. More pairs than fit in a URL are fetched in one call without `pair` (Kraken then
  answers for every listed pair) and filtered here: requests are spaced a second apart, so
  one larger answer costs less than several named calls (2,500 of 10,000 listed pairs: one
  call instead of 13). The answer is split and parsed entry by entry, so one unparseable
  ticker costs only its own pair instead of the whole poll.
- A Ticker call naming a pair Kraken stopped listing fails as a whole with
  `EQuery:Unknown asset pair`, which ccxt leaves a plain ExchangeError: here it means
  UnknownSymbol (the ingest then finds the pair; see tracker/ingest/delisting.py).
- OHLC serves at most the 720 most recent candles of an interval (1-minute: the last 12 hours;
  5-minute: the last 60 hours).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .errors import BadResponse
from .generic import GenericAdapter, RawTickers


class KrakenAdapter(GenericAdapter):
    unknown_symbol_codes: ClassVar[tuple[str, ...]] = ("EQuery:Unknown asset pair",)
    candle_limit = 720
    # Characters of pair ids one Ticker URL names: long URLs are refused by servers on the
    # way (8 KB is a common limit), so more pairs than fit are fetched otherwise.
    ids_per_call = 2000

    def __init__(
        self,
        exchange_id: str = "kraken",
        *,
        base_url: str = "",
        timeout: float = 10.0,
        throttle: bool = True,
    ) -> None:
        super().__init__(exchange_id, base_url=base_url, timeout=timeout, throttle=throttle)

    async def raw_tickers(self, symbols: Sequence[str]) -> tuple[RawTickers, list[tuple[str, str]]]:
        ids = {symbol: self._api.market(symbol)["id"] for symbol in symbols}
        if sum(len(i) + 1 for i in ids.values()) <= self.ids_per_call:
            return await self._ticker_call(symbols, {"pair": ",".join(ids.values())})
        # Without `pair`, Kraken answers for every pair it lists: one call, filtered here.
        parsed, rejected = await self._ticker_call(symbols, {})
        # A wanted pair missing from that answer is asked for by name, so that Kraken's
        # refusal of a pair it stopped listing still names the batch.
        answered = parsed.keys() | {symbol for symbol, _ in rejected}
        missing = {symbol: ids[symbol] for symbol in symbols if symbol not in answered}
        for chunk in self._chunks(missing):
            more, refused = await self._ticker_call(list(chunk), {"pair": ",".join(chunk.values())})
            parsed.update(more)
            rejected.extend(refused)
        return parsed, rejected

    def _chunks(self, ids: dict[str, str]) -> list[dict[str, str]]:
        """{symbol: Kraken id} batches whose `pair` parameter stays within `ids_per_call`."""
        chunks: list[dict[str, str]] = []
        length = self.ids_per_call
        for symbol, market_id in ids.items():
            if length + len(market_id) + 1 > self.ids_per_call:
                chunks.append({})
                length = 0
            chunks[-1][symbol] = market_id
            length += len(market_id) + 1
        return chunks

    async def _ticker_call(
        self, symbols: Sequence[str], params: dict[str, str]
    ) -> tuple[RawTickers, list[tuple[str, str]]]:
        body = await self._api.publicGetTicker(params)
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise BadResponse(f"{self.name} sent no usable tickers")
        entries: list[tuple[dict[str, Any] | None, Any]] = [
            (self._api.safe_market(market_id), entry) for market_id, entry in result.items()
        ]
        return self.parse_entries(entries, symbols)
