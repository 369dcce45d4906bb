"""Which exchanges and pairs the environment seeds: parsing of the TRACKER_EXCHANGE* knobs.

Plain functions over strings, so the settings module and its tests share them. Every bad value
raises ImproperlyConfigured naming the variable and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

_EXCHANGE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ExchangeSeed:
    """One exchange as the environment describes it.

    `required` symbols must be listed by the exchange at seeding (a prefixed entry, or any
    entry when only one exchange is configured); `optional` ones are skipped where unlisted.
    """

    name: str
    base_url: str = ""
    ws_url: str = ""
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = field(default=())


def _names(variable: str, text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if not _EXCHANGE_ID.match(name):
            raise ImproperlyConfigured(
                f"{variable}: {name!r} is not an exchange id (lowercase ccxt ids such as kraken)"
            )
    if len(set(names)) < len(names):
        raise ImproperlyConfigured(f"{variable}={text!r}: an exchange is named twice")
    return names


def _urls(
    variable: str, text: str, *, names: list[str], schemes: tuple[str, ...]
) -> dict[str, str]:
    urls: dict[str, str] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        name, sep, url = entry.partition("=")
        name, url = name.strip(), url.strip()
        if not sep or not name or not url:
            raise ImproperlyConfigured(f"{variable}: {entry!r} is not of the form name=URL")
        if name not in names:
            raise ImproperlyConfigured(
                f"{variable}: {name!r} is not in TRACKER_EXCHANGES ({', '.join(names)})"
            )
        if not url.startswith(schemes):
            raise ImproperlyConfigured(
                f"{variable}: the URL of {name} must start with {' or '.join(schemes)}"
            )
        if name in urls:
            raise ImproperlyConfigured(f"{variable}: {name} is given twice")
        urls[name] = url
    return urls


def exchange_seeds_parse(
    *,
    exchanges: str | None,
    exchange: str | None,
    exchange_url: str | None,
    urls: str = "",
    ws_urls: str = "",
    pairs: str = "",
) -> list[ExchangeSeed]:
    """The exchanges to seed, in the order named, from the environment's strings.

    `exchanges` is TRACKER_EXCHANGES, `exchange` and `exchange_url` the older single-exchange
    TRACKER_EXCHANGE and TRACKER_EXCHANGE_URL (None when unset).
    """
    if exchanges is not None and exchanges.strip():
        names = _names("TRACKER_EXCHANGES", exchanges)
        if exchange and exchange not in names:
            raise ImproperlyConfigured(
                f"TRACKER_EXCHANGE={exchange!r} is not in TRACKER_EXCHANGES={exchanges!r}; "
                "set one of them"
            )
    else:
        names = _names("TRACKER_EXCHANGE", exchange or "kraken")
    if not names:
        raise ImproperlyConfigured("TRACKER_EXCHANGES is empty; name at least one exchange")
    base_urls = _urls("TRACKER_EXCHANGE_URLS", urls, names=names, schemes=("http://", "https://"))
    if exchange_url:
        target = exchange or names[0]
        if len(names) > 1 and not exchange:
            raise ImproperlyConfigured(
                "TRACKER_EXCHANGE_URL is for one exchange; with several, use "
                "TRACKER_EXCHANGE_URLS=name=URL,..."
            )
        if not exchange_url.startswith(("http://", "https://")):
            raise ImproperlyConfigured("TRACKER_EXCHANGE_URL must start with http:// or https://")
        if base_urls.get(target, exchange_url) != exchange_url:
            raise ImproperlyConfigured(
                f"TRACKER_EXCHANGE_URL and TRACKER_EXCHANGE_URLS give {target} different URLs"
            )
        base_urls[target] = exchange_url
    socket_urls = _urls(
        "TRACKER_EXCHANGE_WS_URLS", ws_urls, names=names, schemes=("ws://", "wss://")
    )
    required: dict[str, list[str]] = {name: [] for name in names}
    optional: dict[str, list[str]] = {name: [] for name in names}
    for entry in (part.strip() for part in pairs.split(",")):
        if not entry:
            continue
        prefix, sep, symbol = entry.rpartition(":")
        symbol = symbol.strip()
        if "/" not in symbol or symbol.startswith("/") or symbol.endswith("/"):
            raise ImproperlyConfigured(
                f"TRACKER_PAIRS: {entry!r} is not a pair (BTC/USD, or bitstamp:BTC/USD)"
            )
        if sep:
            prefix = prefix.strip()
            if prefix not in names:
                raise ImproperlyConfigured(
                    f"TRACKER_PAIRS: {entry!r} names {prefix!r}, which is not in "
                    f"TRACKER_EXCHANGES ({', '.join(names)})"
                )
            targets, into = [prefix], required
        else:
            targets, into = names, (required if len(names) == 1 else optional)
        for name in targets:
            if symbol not in into[name]:
                into[name].append(symbol)
    return [
        ExchangeSeed(
            name=name,
            base_url=base_urls.get(name, ""),
            ws_url=socket_urls.get(name, ""),
            required=tuple(required[name]),
            optional=tuple(s for s in optional[name] if s not in required[name]),
        )
        for name in names
    ]
