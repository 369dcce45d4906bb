"""`manage.py backfill`: fill the last hours of tracked pairs' price from candles."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tracker.common.clock import utc_now
from tracker.ingest import backfill
from tracker.markets import selectors
from tracker.markets.models import PairStatus


class Command(BaseCommand):
    help = "Fill the last --hours (24) of the active pairs' price from the exchanges' candles."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("symbols", nargs="*", metavar="SYMBOL", help="default: every pair")
        parser.add_argument("--hours", type=float, default=backfill.HOURS)
        parser.add_argument("--exchange", help="only the pairs of this exchange")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["hours"] <= 0:
            raise CommandError("--hours must be positive")
        found = selectors.pair_list().filter(status=PairStatus.ACTIVE)
        if options["exchange"]:
            found = found.filter(exchange__name=options["exchange"])
        if options["symbols"]:
            found = found.filter(symbol__in=options["symbols"])
        chosen = list(found)
        if not chosen:
            raise CommandError("no active pair matches")
        by_exchange: dict[int, list[Any]] = {}
        for pair in chosen:
            by_exchange.setdefault(pair.exchange_id, []).append(pair)
        failed = 0
        now = utc_now()
        for group in by_exchange.values():
            for result in backfill.pairs_backfill(pairs=group, hours=options["hours"], now=now):
                line = f"{group[0].exchange.name} {result.symbol}: {result.stored} records"
                if result.error:
                    failed += 1
                    line += f", stopped: {result.error}"
                self.stdout.write(line)
        if failed:
            raise CommandError(f"{failed} backfill(s) failed (see above)")
