"""The exchange layer's exception tree: callers catch these, never ccxt's own classes."""

from __future__ import annotations


class ExchangeError(Exception):
    """Anything that went wrong talking to an exchange.

    `transient` tells the poller whether waiting and trying again can help.
    """

    transient = True


class ExchangeUnavailable(ExchangeError):
    """The exchange is down, in maintenance, overloaded or did not answer in time."""


class ExchangeUnreachable(ExchangeUnavailable):
    """No connection to the exchange at all: no network, a wrong URL, DNS, a refused port."""


class RateLimited(ExchangeUnavailable):
    """The exchange asked us to slow down."""


class BadResponse(ExchangeError):
    """The exchange answered with something unusable: HTML, garbage, bad numbers."""


class UnknownSymbol(ExchangeError):
    """One or more symbols are not listed on the exchange. Retrying does not help."""

    transient = False

    def __init__(self, exchange: str, symbols: list[str], *, detail: str = "") -> None:
        self.exchange = exchange
        self.symbols = symbols
        self.detail = detail  # the exchange's (or ccxt's) own words, for the operator
        listed = ", ".join(symbols)
        super().__init__(f"{exchange} does not list {listed}")


class UnsupportedExchange(ExchangeError):
    """The exchange id is not one the client library knows. Retrying does not help."""

    transient = False
