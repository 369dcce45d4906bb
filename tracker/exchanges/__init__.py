"""Talking to exchanges. No Django in here: values in, values out.

One adapter per exchange behind one interface (`base.ExchangeAdapter`), found by exchange id
through `registry`.
"""

from .base import ExchangeAdapter
from .errors import (
    BadResponse,
    ExchangeError,
    ExchangeUnavailable,
    ExchangeUnreachable,
    RateLimited,
    UnknownSymbol,
    UnsupportedExchange,
)
from .registry import ExchangeClient, adapter_for, supported_exchanges
from .values import Candle, Ticker, TickerBatch

__all__ = [
    "BadResponse",
    "Candle",
    "ExchangeAdapter",
    "ExchangeClient",
    "ExchangeError",
    "ExchangeUnavailable",
    "ExchangeUnreachable",
    "RateLimited",
    "Ticker",
    "TickerBatch",
    "UnknownSymbol",
    "UnsupportedExchange",
    "adapter_for",
    "supported_exchanges",
]
