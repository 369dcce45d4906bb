"""Pair management while the tracker runs: add pairs checked against the exchange's markets,
remove them (history kept) or purge them (history deleted).

The exchange's markets list is asked for through its adapter and kept here for a day per
exchange; a symbol missing from the kept list reloads it once before it is refused, so a pair
listed since the last load is found.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction

from tracker.exchanges import ExchangeError, adapter_for
from tracker.markets import services
from tracker.markets.models import (
    Exchange,
    MinuteRollup,
    Pair,
    PairStatus,
    Record,
)
from tracker.markets.services import pair_status_set

logger = logging.getLogger(__name__)

MARKETS_MAX_AGE = timedelta(days=1)
PURGE_BATCH = 5000
_markets: dict[str, tuple[datetime, frozenset[str]]] = {}


class PairError(Exception):
    """A pair that cannot be added; the message says why."""


class PairUnknown(PairError):
    """The exchange does not list the symbol; `matches` are listed symbols close to it."""

    def __init__(self, exchange: str, symbols: Sequence[str], matches: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self.matches = list(matches)
        close = f" Close matches: {', '.join(matches)}." if matches else " No close matches."
        super().__init__(f"{exchange} does not list {', '.join(symbols)}.{close}")


class PairTracked(PairError):
    """The pair is tracked already."""


def markets_forget() -> None:
    """Drop every kept markets list (tests; an operator who knows the exchange changed)."""
    _markets.clear()


async def _markets_load(exchange: Exchange) -> frozenset[str]:
    async with adapter_for(
        exchange.name, base_url=exchange.base_url, timeout=settings.TRACKER_EXCHANGE_TIMEOUT
    ) as client:
        return await client.markets()


def markets_listed(*, exchange: Exchange, now: datetime, reload: bool = False) -> frozenset[str]:
    """The symbols `exchange` lists, loaded at most once a day unless `reload`.

    Raises ExchangeError when the exchange cannot be asked."""
    kept = _markets.get(exchange.name)
    if reload or kept is None or now - kept[0] >= MARKETS_MAX_AGE:
        listed = async_to_sync(_markets_load)(exchange)
        _markets[exchange.name] = (now, listed)
        return listed
    return kept[1]


def _check_listed(*, exchange: Exchange, symbols: Sequence[str], now: datetime) -> None:
    listed = markets_listed(exchange=exchange, now=now)
    if any(symbol not in listed for symbol in symbols):
        listed = markets_listed(exchange=exchange, now=now, reload=True)
    unknown = [symbol for symbol in symbols if symbol not in listed]
    if unknown:
        matches = difflib.get_close_matches(unknown[0], sorted(listed), n=5, cutoff=0.6)
        raise PairUnknown(exchange.name, unknown, matches)


def pair_add(*, exchange: Exchange, symbol: str, now: datetime) -> Pair:
    """Track `symbol` on `exchange` from the next tick: the pair and one metric per kind.

    Raises PairUnknown (with close matches) when the exchange does not list it, PairTracked
    when it is tracked already, ExchangeError when the exchange cannot be asked.
    """
    if Pair.objects.filter(exchange=exchange, symbol=symbol).exists():
        raise PairTracked(f"{symbol} on {exchange.name} is tracked already.")
    _check_listed(exchange=exchange, symbols=[symbol], now=now)
    created = _pairs_insert(exchange=exchange, symbols=[symbol])
    if not created:  # added by someone else between the check and the insert
        raise PairTracked(f"{symbol} on {exchange.name} is tracked already.")
    logger.info("added %s on %s", symbol, exchange.name)
    return created[0]


def pairs_add_many(*, exchange: Exchange, symbols: Sequence[str], now: datetime) -> list[Pair]:
    """Track many symbols at once in a few queries; those tracked already are left as they
    are. Returns the pairs created. Raises PairUnknown naming every unlisted symbol, and
    creates nothing then."""
    wanted = list(dict.fromkeys(symbols))
    _check_listed(exchange=exchange, symbols=wanted, now=now)
    created = _pairs_insert(exchange=exchange, symbols=wanted)
    logger.info("added %d pairs on %s", len(created), exchange.name)
    return created


@transaction.atomic
def _pairs_insert(*, exchange: Exchange, symbols: Sequence[str]) -> list[Pair]:
    """Create the pairs not tracked yet, with a metric of each configured kind; return them."""
    tracked = set(
        Pair.objects.filter(exchange=exchange, symbol__in=symbols).values_list("symbol", flat=True)
    )
    new = [symbol for symbol in symbols if symbol not in tracked]
    return services.pairs_create(exchange=exchange, symbols=new) if new else []


def pair_remove(*, pair: Pair, now: datetime, by: str = "", purge: bool = False) -> None:
    """Stop tracking `pair`. Its history stays readable (the pair is paused, "removed by ...")
    unless `purge`, which deletes the pair, its metrics, records and rollups, in batches so a
    long history does not hold one huge transaction."""
    if not purge:
        reason = f"removed by {by}" if by else "removed"
        pair_status_set(pair=pair, status=PairStatus.PAUSED, reason=reason, now=now)
        logger.info("removed %s (history kept)", pair)
        return
    metric_ids = list(pair.metrics.values_list("id", flat=True))
    pair_status_set(pair=pair, status=PairStatus.PAUSED, reason="being purged", now=now)
    for metric_id in metric_ids:
        _delete_in_batches(Record, metric_id=metric_id, field="timestamp")
        _delete_in_batches(MinuteRollup, metric_id=metric_id, field="minute")
    pair.delete()
    logger.info("purged %s and its history", pair)


def _delete_in_batches(
    model: type[Record] | type[MinuteRollup], *, metric_id: int, field: str
) -> None:
    rows = model.objects.filter(metric_id=metric_id)
    while True:
        edge = list(
            rows.order_by(field).values_list(field, flat=True)[PURGE_BATCH - 1 : PURGE_BATCH]
        )
        if not edge:
            rows.delete()
            return
        rows.filter(**{f"{field}__lte": edge[0]}).delete()


__all__ = [
    "ExchangeError",
    "PairError",
    "PairTracked",
    "PairUnknown",
    "markets_forget",
    "markets_listed",
    "pair_add",
    "pair_remove",
    "pairs_add_many",
]
