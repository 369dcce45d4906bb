"""`manage.py seedpairs`: create the configured pairs after checking the exchange lists them."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracker.exchanges import ExchangeClient, ExchangeError
from tracker.ingest.services import pairs_seed


async def _seed() -> list[str]:
    async with ExchangeClient(
        settings.TRACKER_EXCHANGE,
        base_url=settings.TRACKER_EXCHANGE_URL,
        timeout=settings.TRACKER_EXCHANGE_TIMEOUT,
    ) as client:
        _, active = await pairs_seed(
            client=client, base_url=settings.TRACKER_EXCHANGE_URL, symbols=settings.TRACKER_PAIRS
        )
        return active


class Command(BaseCommand):
    help = "Seed TRACKER_PAIRS for TRACKER_EXCHANGE, once, validated against its markets."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            active = asyncio.run(_seed())
        except ExchangeError as exc:
            raise CommandError(f"cannot seed pairs: {exc}") from exc
        self.stdout.write(f"{settings.TRACKER_EXCHANGE}: tracking {', '.join(active)}")
