"""`manage.py pairs add|remove|list`: pair management from the command line."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tracker.common.clock import utc_now
from tracker.ingest import backfill, pairs
from tracker.markets import selectors
from tracker.markets.models import Exchange, PairStatus


def _exchange(name: str) -> Exchange:
    exchange = Exchange.objects.filter(name=name).first()
    if exchange is None:
        known = ", ".join(selectors.exchange_list().values_list("name", flat=True)) or "none"
        raise CommandError(f"unknown exchange {name!r}; known: {known}")
    return exchange


class Command(BaseCommand):
    help = "Add, remove (--purge deletes the history too) and list tracked pairs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="track pairs and backfill their last 24 hours")
        add.add_argument("exchange")
        add.add_argument("symbols", nargs="+", metavar="SYMBOL")
        add.add_argument("--hours", type=float, default=backfill.HOURS, help="0: no backfill")
        remove = actions.add_parser("remove", help="stop tracking pairs; history is kept")
        remove.add_argument("exchange")
        remove.add_argument("symbols", nargs="+", metavar="SYMBOL")
        remove.add_argument("--purge", action="store_true", help="delete the history too")
        listing = actions.add_parser("list", help="the tracked pairs")
        listing.add_argument("--exchange")
        listing.add_argument("--status", choices=PairStatus.values)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(**options)

    def _add(self, *, exchange: str, symbols: list[str], hours: float, **_: Any) -> None:
        where, now = _exchange(exchange), utc_now()
        try:
            added = pairs.pairs_add_many(exchange=where, symbols=symbols, now=now)
        except pairs.PairError as exc:
            raise CommandError(str(exc)) from exc
        except pairs.ExchangeError as exc:
            raise CommandError(f"cannot ask {exchange} for its markets: {exc}") from exc
        skipped = sorted(set(symbols) - {pair.symbol for pair in added})
        for symbol in skipped:
            self.stdout.write(f"{symbol} on {exchange}: tracked already")
        results = backfill.pairs_backfill(pairs=added, hours=hours, now=now) if hours > 0 else []
        failed = False
        for pair in added:
            self.stdout.write(f"{pair.symbol} on {exchange}: added (pair {pair.id})")
        for result in results:
            line = f"{result.symbol}: backfilled {result.stored} records"
            if result.error:
                failed = True
                line += f", stopped: {result.error}"
            self.stdout.write(line)
        if failed:
            raise CommandError("the pairs were added, but a backfill failed (see above)")

    def _remove(self, *, exchange: str, symbols: list[str], purge: bool, **_: Any) -> None:
        where = _exchange(exchange)
        found = {
            p.symbol: p for p in selectors.pair_list().filter(exchange=where, symbol__in=symbols)
        }
        missing = [symbol for symbol in symbols if symbol not in found]
        if missing:
            raise CommandError(f"{exchange} has no tracked pair {', '.join(missing)}")
        for symbol in symbols:
            pairs.pair_remove(pair=found[symbol], now=utc_now(), by="manage.py", purge=purge)
            self.stdout.write(f"{symbol} on {exchange}: {'purged' if purge else 'removed'}")

    def _list(self, *, exchange: str | None, status: str | None, **_: Any) -> None:
        found = selectors.pair_list()
        if exchange:
            found = found.filter(exchange=_exchange(exchange))
        if status:
            found = found.filter(status=status)
        for pair in found:
            reason = f" ({pair.status_reason})" if pair.status_reason else ""
            self.stdout.write(f"{pair.exchange.name}\t{pair.symbol}\t{pair.status}{reason}")
