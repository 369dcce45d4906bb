"""Finding the pair an exchange stopped listing, when it refuses a whole batch because of it.

Kraken answers a batched Ticker call that names one unknown pair with `EQuery:Unknown asset
pair` for the whole batch, without saying which pair. First the markets list is reloaded: a
symbol that left it is gone. If the exchange still refuses the rest, the batch is bisected with
ticker calls down to the symbols it refuses on their own. The tickers of the other pairs,
fetched along the way, are kept, so they are stored in the same tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tracker.exchanges import (
    ExchangeAdapter,
    ExchangeUnavailable,
    Ticker,
    TickerBatch,
    UnknownSymbol,
)


async def unlisted_find(
    *, client: ExchangeAdapter, symbols: Sequence[str], now: datetime
) -> tuple[TickerBatch, dict[str, str]]:
    """(the tickers of the symbols the exchange still serves, {refused symbol: why}).

    Raises ExchangeUnavailable when the exchange refuses every one of several pairs (or lists
    no markets at all): that is an outage or maintenance, not a delisting.
    """
    listed = await client.markets(reload=True)
    if not listed:
        raise ExchangeUnavailable(f"{client.name} lists no markets at all")
    reasons = {
        symbol: f"{client.name} no longer lists {symbol} in its markets"
        for symbol in symbols
        if symbol not in listed
    }
    tickers: list[Ticker] = []
    rejected: list[tuple[str, str]] = []
    await _bisect(
        client,
        [symbol for symbol in symbols if symbol not in reasons],
        now=now,
        into=(tickers, rejected, reasons),
    )
    if len(symbols) > 1 and set(reasons) >= set(symbols):
        raise ExchangeUnavailable(
            f"{client.name} refuses every pair ({len(symbols)}); taken for an outage, "
            "not a delisting"
        )
    return TickerBatch(tickers=tuple(tickers), rejected=tuple(rejected)), reasons


async def _bisect(
    client: ExchangeAdapter,
    symbols: Sequence[str],
    *,
    now: datetime,
    into: tuple[list[Ticker], list[tuple[str, str]], dict[str, str]],
) -> None:
    tickers, rejected, reasons = into
    if not symbols:
        return
    try:
        batch = await client.tickers(symbols, now=now)
    except UnknownSymbol as exc:
        if len(symbols) == 1:
            (symbol,) = symbols
            reasons[symbol] = (
                f"{client.name} answers {exc.detail or 'unknown symbol'} when asked for {symbol} "
                "alone, though its markets still list it"
            )
            return
        half = len(symbols) // 2
        await _bisect(client, symbols[:half], now=now, into=into)
        await _bisect(client, symbols[half:], now=now, into=into)
        return
    tickers.extend(batch.tickers)
    rejected.extend(batch.rejected)
