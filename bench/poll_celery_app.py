"""The Celery app of bench/poll_celery.py's what-if runs: config.celery's, with the poll task's
exchange client changed as the environment says, to see what a change would buy before making it.

- BENCH_THROTTLE=0: the client does not space its requests (ccxt's rateLimit; Kraken: 1 s);
- BENCH_IDS_PER_CALL=n: Kraken's Ticker URL names up to n characters of pair ids;
- BENCH_MARKETS_CACHE=1: each worker process keeps an exchange's markets from its first poll
  and hands them to the clients of the next ones, which then load none;
- BENCH_CLOSE_WAIT=0: closing the client skips ccxt's 250 ms sleep (`timeout_on_exit`), which
  holds the pool process after the task's records are committed.

    celery -A bench.poll_celery_app worker -Q poll
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import django
from django.conf import settings

from config.celery import app

django.setup()  # before the tasks' models; the worker would set it up later otherwise

from tracker.exchanges import ExchangeClient  # noqa: E402
from tracker.exchanges.kraken import KrakenAdapter  # noqa: E402
from tracker.ingest.services import PollResult, exchange_poll  # noqa: E402
from tracker.markets.models import Exchange  # noqa: E402
from tracker.runtime import tasks  # noqa: E402

__all__ = ["app"]

THROTTLE = os.environ.get("BENCH_THROTTLE", "1") != "0"
MARKETS_CACHE = os.environ.get("BENCH_MARKETS_CACHE", "0") == "1"
CLOSE_WAIT = os.environ.get("BENCH_CLOSE_WAIT", "1") != "0"
_markets: dict[int, tuple[Any, Any]] = {}

if os.environ.get("BENCH_IDS_PER_CALL"):
    KrakenAdapter.ids_per_call = int(os.environ["BENCH_IDS_PER_CALL"])


def _client(exchange: Exchange) -> ExchangeClient:
    return ExchangeClient(
        exchange.name,
        base_url=exchange.base_url,
        timeout=settings.TRACKER_EXCHANGE_TIMEOUT,
        throttle=THROTTLE,
    )


async def _poll(exchange: Exchange, symbols: list[str], at: datetime) -> PollResult:
    client = _client(exchange)
    api = client.adapter._api  # type: ignore[attr-defined]
    if not CLOSE_WAIT:
        api.timeout_on_exit = 0
    if MARKETS_CACHE and exchange.id in _markets:
        api.set_markets(*_markets[exchange.id])
    try:
        return await exchange_poll(client=client, exchange=exchange, now=at, symbols=symbols)
    finally:
        if MARKETS_CACHE and api.markets:
            _markets[exchange.id] = (api.markets, api.currencies)
        await client.close()


tasks._client = _client
tasks._poll = _poll
