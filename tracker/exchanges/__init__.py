"""Talking to exchanges. No Django in here: values in, values out."""

from .client import ExchangeClient
from .errors import (
    BadResponse,
    ExchangeError,
    ExchangeUnavailable,
    ExchangeUnreachable,
    RateLimited,
    UnknownSymbol,
    UnsupportedExchange,
)
from .values import Ticker, TickerBatch

__all__ = [
    "BadResponse",
    "ExchangeClient",
    "ExchangeError",
    "ExchangeUnavailable",
    "ExchangeUnreachable",
    "RateLimited",
    "Ticker",
    "TickerBatch",
    "UnknownSymbol",
    "UnsupportedExchange",
]
