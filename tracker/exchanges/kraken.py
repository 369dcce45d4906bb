"""Kraken: what differs from the generic ccxt adapter.

- One Ticker call serves many pairs (`pair=XXBTZUSD,XETHZUSD,...`), keyed by Kraken's own pair
  ids. The answer is split and parsed entry by entry, so one unparseable ticker costs only its
  own pair instead of the whole poll.
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
        ids = [self._api.market(symbol)["id"] for symbol in symbols]
        body = await self._api.publicGetTicker({"pair": ",".join(ids)})
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise BadResponse(f"{self.name} sent no usable tickers")
        entries: list[tuple[dict[str, Any] | None, Any]] = [
            (self._api.safe_market(market_id), entry) for market_id, entry in result.items()
        ]
        return self.parse_entries(entries, symbols)
