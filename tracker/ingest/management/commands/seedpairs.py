"""`manage.py seedpairs`: create the configured exchanges and pairs, after checking that each
exchange lists them."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracker.common.exchange_settings import ExchangeSeed
from tracker.exchanges import ExchangeClient, ExchangeError
from tracker.ingest.services import pairs_seed
from tracker.markets.services import exchanges_seed


async def _seed(seed: ExchangeSeed) -> list[str]:
    async with ExchangeClient(
        seed.name, base_url=seed.base_url, timeout=settings.TRACKER_EXCHANGE_TIMEOUT
    ) as client:
        _, active = await pairs_seed(
            client=client, base_url=seed.base_url, symbols=seed.required, optional=seed.optional
        )
        return active


class Command(BaseCommand):
    help = (
        "Seed the exchanges of TRACKER_EXCHANGES and their TRACKER_PAIRS, once per exchange, "
        "validated against each exchange's markets."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        seeds: list[ExchangeSeed] = settings.TRACKER_EXCHANGE_SEEDS
        exchanges_seed(
            seeds=[(seed.name, seed.base_url, seed.ws_url) for seed in seeds],
            interval=settings.TRACKER_FETCH_INTERVAL,
        )
        failed = []
        for seed in seeds:
            try:
                active = asyncio.run(_seed(seed))
            except ExchangeError as exc:
                failed.append(str(exc))  # the exception names its exchange
                continue
            self.stdout.write(f"{seed.name}: tracking {', '.join(active) or 'no pairs'}")
        if failed:
            raise CommandError("cannot seed pairs: " + "; ".join(failed))
